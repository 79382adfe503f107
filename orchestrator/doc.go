// Package orchestrator does everything a run does: it starts and cancels runs,
// runs the worker loop that claims them from the broker, and executes them:
// code execution, and chat turns (chat memory, the planner, the agents, the
// combined code in the chat's kernel, repairs, and the stored answer). Every
// step appends an event to the run's log in the broker.
package orchestrator
