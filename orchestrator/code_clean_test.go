package orchestrator

import "testing"

func TestCleanCode(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no imports", "x = 1\nprint(x)", "x = 1\nprint(x)"},
		{"moved and deduplicated",
			"# preprocessing_agent code start\nimport pandas as pd\ndf2 = df.copy()\n# preprocessing_agent code end\n# data_viz_agent code start\nimport pandas as pd\nimport plotly.express as px\nfig = px.bar(df2)\n# data_viz_agent code end",
			"import pandas as pd\nimport plotly.express as px\n\n# preprocessing_agent code start\ndf2 = df.copy()\n# preprocessing_agent code end\n# data_viz_agent code start\nfig = px.bar(df2)\n# data_viz_agent code end"},
		{"same import spaced differently", "import numpy  as np\nx = 1\nimport numpy as np", "import numpy  as np\n\nx = 1"},
		{"parenthesised", "x = 1\nfrom sklearn.metrics import (\n    accuracy_score,  # (main)\n    f1_score,\n)\ny = 2",
			"from sklearn.metrics import (\n    accuracy_score,  # (main)\n    f1_score,\n)\n\nx = 1\ny = 2"},
		{"continued", "x = 1\nfrom os import path, \\\n    sep\ny = 2", "from os import path, \\\n    sep\n\nx = 1\ny = 2"},
		{"indented imports stay", "def f():\n    import json\n    return json\ntry:\n    import seaborn\nexcept ImportError:\n    pass",
			"def f():\n    import json\n    return json\ntry:\n    import seaborn\nexcept ImportError:\n    pass"},
		{"inside a docstring", "s = \"\"\"\nimport os\n\"\"\"\nimport sys", "import sys\n\ns = \"\"\"\nimport os\n\"\"\""},
		{"future first", "import os\nfrom __future__ import annotations\nx = 1", "from __future__ import annotations\nimport os\n\nx = 1"},
		{"from without import is code", "from_x = 1\nfrom = 2", "from_x = 1\nfrom = 2"},
		{"windows line ends", "x = 1\r\nimport os\r\n", "import os\n\nx = 1\n"},
		{"only imports", "import os\nimport sys\n", "import os\nimport sys\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CleanCode(tt.in)
			if got != tt.want {
				t.Fatalf("CleanCode(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if again := CleanCode(got); again != got {
				t.Fatalf("not idempotent:\n%q\n%q", got, again)
			}
		})
	}
}
