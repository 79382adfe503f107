"""The scientific part of the stack, imported on first use (stack.Lazy,
stack.wanted, stack.import_heavy)."""

import sys
import unittest

from kernel import stack
from kernel.tests.helpers import plotting


class WantedTest(unittest.TestCase):
    def test_parts_named(self):
        cases = [
            ("x = 1", []),
            ("print(df.shape)", []),
            ("from sklearn.linear_model import LinearRegression", ["sklearn"]),
            ("import scipy", ["scipy"]),
            ("t = stats.ttest_ind(a, b)", ["scipy"]),
            ("m = sm.OLS(y, X).fit()", ["statsmodels"]),
            ("r = smf.ols('y ~ x', d).fit()", ["statsmodels"]),
            ("import statsmodels.api as s", ["statsmodels"]),
            ("sns.histplot(df)", ["seaborn"]),
            ("# sklearn in a comment still counts: a false match only costs the import", ["sklearn"]),
            ("summary_stats = df.describe()", []),
            ("smooth = 1; smx.f()", []),
            ("", []),
            (None, []),
        ]
        for code, want in cases:
            with self.subTest(code=code):
                self.assertEqual([p for p in stack.wanted(code) if p not in stack._imported],
                                 [p for p in want if p not in stack._imported])


class LazyTest(unittest.TestCase):
    def setUp(self):
        plotting()

    def test_first_use_imports_and_replaces_itself(self):
        lazy = stack.Lazy("stats", "scipy.stats")
        ns = {"stats": lazy}
        exec("p = stats.norm.cdf(0)", ns)
        self.assertAlmostEqual(ns["p"], 0.5)
        self.assertIs(ns["stats"], sys.modules["scipy.stats"])
        self.assertIn("norm", dir(lazy))
        self.assertIn("lazy module", repr(lazy))

    def test_import_heavy_fills_base(self):
        stack.BASE["sm"] = stack.Lazy("sm", "statsmodels.api")
        stack.BASE["smf"] = stack.Lazy("smf", "statsmodels.formula.api")
        self.assertTrue(stack.import_heavy(["statsmodels"]))
        self.assertIs(stack.BASE["sm"], sys.modules["statsmodels.api"])
        self.assertIs(stack.BASE["smf"], sys.modules["statsmodels.formula.api"])
        self.assertEqual(stack.wanted("sm.OLS"), [])
        self.assertFalse(stack.import_heavy(["statsmodels"]))  # once

    def test_import_heavy_failure_is_left_to_the_execution(self):
        stack.HEAVY["missing"] = (("no_such_module_here",), {"nm": "no_such_module_here"})
        try:
            self.assertFalse(stack.import_heavy(["missing"]))
            self.assertNotIn("missing", stack._imported)
        finally:
            del stack.HEAVY["missing"]


if __name__ == "__main__":
    unittest.main()
