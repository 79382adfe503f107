// Package analytics answers the questions about usage that users and admins
// ask: tokens, cost and runs per period and model, users and their activity,
// cost by day with a projection, price tiers, code-execution success by
// agent with the most frequent errors, feedback, and a public ticker. It also
// follows new ModelUsage rows for the admin's live feed.
//
// It reads through the ent client, so privacy rules apply: a viewer sees
// their own usage, an admin everything; resolvers decide who may ask what.
// Aggregates are computed by the database (GROUP BY), except code execution
// by agent, which parses the agent markers of the most recent executions of
// the period (at most MaxExecutionsScanned).
package analytics
