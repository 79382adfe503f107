// Package orchestrator is the run service: it runs the engine that every
// run goes through and the pipelines that do a run's work.
//
// The engine (service.go, run.go, worker.go, event.go, follow.go,
// result.go): a run is stored QUEUED and enqueued on the broker (run.go);
// workers claim it under a lease that a heartbeat extends, execute it, and
// hand it back or let another worker take it over when they stop or die
// (worker.go); every step appends an event to the run's log in the broker
// (event.go), and Follow streams that log to a client, replayed from any
// sequence number, then live, else from the copy stored with the finished
// run (follow.go). A worker reserves its run's sequence numbers and
// checkpoints the last one in the run's row, so that a log lost with the
// broker goes on past what clients saw (worker.go). Cancel and Recover end
// or requeue runs; Reconcile, run by every process with workers, ends or
// requeues the runs whose job the broker dead-lettered or lost
// (reconcile.go), so that every run ends.
//
// The pipelines, one per run kind, each in the files named after it:
//   - chat*.go: the chat turn (CHAT): chat.go the turn from its memory to
//     the combined code run in the chat's kernel, repaired when it fails,
//     and the stored answer; chat_agents.go @mentions or the planner's plan
//     and the agents writing code in parallel (and refuses a FREE user's
//     mention of a premium template), and which block a failure is repaired
//     in; chat_interpret.go the interpreter, which writes the answer from
//     what the code produced and checks its numbers against it;
//     chat_summary.go what follows the answer: its summary for the chat's
//     memory, the chat's title and the suggested next questions;
//   - code_*.go: executing code (EXECUTE_CODE), and fixing and editing it
//     (FIX_CODE, EDIT_CODE); CleanCode tidies a program's imports;
//   - deep*.go: deep analysis (DEEP_ANALYSIS), seven steps ending in the
//     stored HTML report;
//   - describe.go: describing datasets (DESCRIBE_DATASETS).
//
// The pipelines share the prompts (prompts.go), the LLM calls with their
// usage rows and metrics, and the choice of model of each call (llm.go),
// and the parsing of the models' answers (parse.go). What a run
// reads but does not own comes from other services: its user's model from
// package modelsetting, its agents from package catalog.
package orchestrator
