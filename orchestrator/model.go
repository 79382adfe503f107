package orchestrator

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/modelsetting"
)

// StepModel is the model one kind of LLM call uses instead of the run's,
// on the server's keys (the original rates and names on a small model).
type StepModel struct {
	Provider llm.Provider
	Model    string
}

// ModelSteps returns the LLM steps that may have a model of their own
// (Config.StepModels, STEP_MODELS). Agents always use the run's model.
func ModelSteps() []string {
	return []string{
		"rater", "planner", "chat_name", "memory_summary", "error_summary", "code_fix", "code_edit", "describe_datasets",
		"deep_questions", "deep_planner", "deep_plan_fix", "deep_code_synthesizer", "deep_code_fix",
		"deep_synthesizer", "deep_conclusion",
	}
}

// stepModels checks the configured step models and meters their providers.
func (s *Service) stepModels(cfg map[string]StepModel) (map[string]StepModel, error) {
	known := ModelSteps()
	out := make(map[string]StepModel, len(cfg))
	for step, sm := range cfg {
		if !slices.Contains(known, step) {
			return nil, fmt.Errorf("step model for %q: unknown step (steps: %s)", step, strings.Join(known, ", "))
		}
		if sm.Provider == nil || sm.Model == "" {
			return nil, fmt.Errorf("step model for %q: no provider or model", step)
		}
		out[step] = StepModel{Provider: s.metered(sm.Provider), Model: sm.Model}
	}
	return out, nil
}

// callModel is what one call of a step sends: the step's own model when it
// has one and the run is on the server's keys (a user's own key pays for the
// user's model only), else the run's. Temperature and max tokens follow the
// run's settings, clamped and capped for the model actually called.
func (s *Service) callModel(t *turn, step string) (llm.Provider, string, float64, int) {
	sm, ok := s.steps[step]
	if !ok || t.model.OwnKey {
		return t.provider, t.model.Model, t.model.Temperature, t.model.MaxTokens
	}
	return sm.Provider, sm.Model, s.cfg.Registry.ClampTemperature(sm.Model, t.model.Temperature),
		s.cfg.Registry.CapMaxTokens(sm.Model, t.model.MaxTokens)
}

// runModel picks the model of a run: a user's own key that cannot be used
// fails the run as MODEL_NOT_CONFIGURED, saying what to do.
func (s *Service) runModel(rc *runContext) (*modelsetting.Choice, error) {
	mc, err := s.cfg.Models.ForRun(rc.user, rc.run.UserID)
	var ke *modelsetting.KeyError
	if errors.As(err, &ke) {
		return nil, &runError{code: CodeModelNotConfigured, err: ke.Err, msg: ke.Error()}
	}
	return mc, err
}

// recordModel stores on the run the model settings its LLM calls use (what
// feedback on the answer refers to).
func (s *Service) recordModel(rc *runContext, mc *modelsetting.Choice) {
	provider := ""
	if mc.Provider != nil {
		provider = mc.Provider.Name()
	}
	err := s.cfg.DB.Run.UpdateOneID(rc.run.ID).SetModelProvider(provider).SetModelName(mc.Model).
		SetModelTemperature(mc.Temperature).SetModelMaxTokens(mc.MaxTokens).
		Exec(privacy.DecisionContext(rc.user, privacy.Allow))
	if err != nil {
		s.runLog(rc.user, rc.run.ID).Warn().Err(err).Msg("store the run's model settings")
	}
}
