// Package credit keeps the users' monthly allowances of credits, as the
// original's credits: each run is charged when it is accepted, before any
// model call, and a run that would take its user past the allowance is
// refused with CREDITS_EXHAUSTED.
//
// Costs: a chat turn costs its model's tier's credits (1, 3, 5, 20 or 50;
// a model outside the registry as tier 1), a deep analysis DeepAnalysis
// credits (50 by default), a code fix, a code edit and a dataset description
// 1 credit each, a code execution nothing. Runs on the user's own API key
// cost nothing.
//
// Allowances: a user's own (set by an admin) over their plan's (set by an
// admin) over the server's default for the plan (CREDITS_FREE, CREDITS_PRO);
// negative means unlimited. The period is the calendar month (UTC): usage
// starts again from 0 at the first instant of each month.
//
// The charge is one conditional UPDATE of the user's row for the month
// (used = used + cost WHERE used + cost <= allowance), inside the
// transaction that creates the run: concurrent runs never take a user past
// the allowance, and a run that is not created is not charged.
package credit
