package orchestrator

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/llm"
	"github.com/autoanalyst/autoanalyst/metrics"
	"github.com/autoanalyst/autoanalyst/modelsetting"
)

// metered wraps p so that its calls write usage rows (llm.Metered) and are
// counted in the metrics by provider, model and step.
func (s *Service) metered(p llm.Provider) llm.Provider {
	inner := llm.Metered(p, s.cfg.Registry, s.recordUsage)
	if s.cfg.Metrics != nil {
		inner = &observed{Provider: inner, s: s}
	}
	return &traced{Provider: inner, s: s}
}

// traced gives each of a provider's calls a span "llm.generate" with the
// provider, model, step, tokens and attempts (never prompts or answers).
type traced struct {
	llm.Provider
	s *Service
}

func (t *traced) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	ctx, span := t.s.tracer.Start(ctx, "llm.generate", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	model := metrics.Other
	if m, known := t.s.cfg.Registry.Lookup(req.Model); known {
		model = m.Name
	}
	attrs := []attribute.KeyValue{attribute.String("llm.provider", t.Name()), attribute.String("llm.model", model)}
	if m, ok := ctx.Value(usageKey{}).(usageMeta); ok && stepLabel.MatchString(m.step) {
		attrs = append(attrs, attribute.String("llm.step", m.step))
	}
	resp, err := t.Provider.Generate(ctx, req)
	if resp != nil {
		u := resp.Usage
		attrs = append(attrs, attribute.Int64("llm.input_tokens", int64(u.InputTokens)),
			attribute.Int64("llm.output_tokens", int64(u.OutputTokens)), attribute.Int("llm.attempts", u.Attempts))
	}
	var apiErr *llm.APIError
	if errors.As(err, &apiErr) {
		attrs = append(attrs, attribute.Int("llm.attempts", apiErr.Attempts))
	}
	span.SetAttributes(attrs...)
	if err != nil {
		span.SetStatus(codes.Error, "llm call failed")
	}
	return resp, err
}

// observed counts a provider's calls in the metrics.
type observed struct {
	llm.Provider
	s *Service
}

var stepLabel = regexp.MustCompile(`^[a-z_]{1,40}$`)

func (o *observed) Generate(ctx context.Context, req llm.Request) (*llm.Response, error) {
	start := time.Now()
	resp, err := o.Provider.Generate(ctx, req)
	c := metrics.LLMCall{Provider: o.Name(), Model: metrics.Other, Duration: time.Since(start), Failed: err != nil}
	if m, known := o.s.cfg.Registry.Lookup(req.Model); known {
		c.Model = m.Name
	}
	if m, ok := ctx.Value(usageKey{}).(usageMeta); ok && stepLabel.MatchString(m.step) {
		c.Step = m.step
	}
	if resp != nil {
		u := resp.Usage
		c.InputTokens, c.OutputTokens, c.CostUSD = u.InputTokens, u.OutputTokens, u.CostUSD
		c.Retries = u.Attempts - 1
	}
	var apiErr *llm.APIError
	if errors.As(err, &apiErr) {
		c.Retries = apiErr.Attempts - 1
	}
	o.s.cfg.Metrics.LLMCalled(c)
	return resp, err
}

// call makes one LLM call for a step of the turn, on the step's model
// (callModel). Every call is streamed, so that the provider reports the
// tokens of an answer that breaks off; onToken (nil: none) receives the
// chunks.
func (s *Service) call(t *turn, step, prompt string, onToken func(string)) (string, error) {
	if onToken == nil {
		onToken = func(string) {}
	}
	chatID := ""
	if t.chat != nil {
		chatID = t.chat.ID
	}
	ctx := withUsageMeta(t.rc.user, usageMeta{userID: t.rc.run.UserID, chatID: chatID, runID: t.rc.run.ID, step: step})
	provider, model, temperature, maxTokens := s.callModel(t, step)
	resp, err := provider.Generate(ctx, llm.Request{
		Model:       model,
		Messages:    []llm.Message{{Role: llm.RoleUser, Content: prompt}},
		Temperature: temperature,
		MaxTokens:   maxTokens,
		OnToken:     onToken,
	})
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if errors.Is(err, llm.ErrNotConfigured) {
			return "", err
		}
		return "", &runError{code: CodeModelError, msg: fmt.Sprintf("the model failed at step %s: %v", step, err), err: err}
	}
	return resp.Content, nil
}

// usageMeta says what an LLM call was for, so that its usage row can say so.
type usageMeta struct {
	userID, chatID, runID, step string
}

type usageKey struct{}

func withUsageMeta(ctx context.Context, m usageMeta) context.Context {
	return context.WithValue(ctx, usageKey{}, m)
}

// recordUsage writes one ModelUsage row per LLM call: in the background for
// a call of a run (the run ends once its rows are stored: see usageWrites),
// else before it returns.
func (s *Service) recordUsage(ctx context.Context, u llm.Usage, callErr error) {
	m, ok := ctx.Value(usageKey{}).(usageMeta)
	if !ok {
		s.cfg.Logger.Error().Msg("LLM call without usage metadata; usage not recorded")
		return
	}
	if m.runID == "" {
		s.storeUsage(ctx, m, u, callErr)
		return
	}
	ctx = context.WithoutCancel(ctx)
	s.usage.start(m.runID, func() { s.storeUsage(ctx, m, u, callErr) })
}

// storeUsage writes the usage row of one call, retried while the database
// does not answer (DBPatience).
func (s *Service) storeUsage(ctx context.Context, m usageMeta, u llm.Usage, callErr error) {
	sys := privacy.DecisionContext(context.WithoutCancel(ctx), privacy.Allow)
	row := func(chatID, runID *string) *ent.ModelUsageCreate {
		c := s.cfg.DB.ModelUsage.Create().
			SetUserID(m.userID).SetNillableChatID(chatID).SetNillableRunID(runID).SetStep(m.step).
			SetModelName(u.Model).SetProvider(u.Provider).
			SetPromptTokens(u.InputTokens).SetCompletionTokens(u.OutputTokens).
			SetTotalTokens(u.InputTokens + u.OutputTokens).
			SetCost(u.CostUSD).SetIsStreaming(u.Streamed).SetQuerySize(u.QueryChars).SetResponseSize(u.ResponseChars).
			SetRequestTimeMs(int(u.Duration / time.Millisecond))
		if callErr != nil {
			c.SetError(truncate(callErr.Error(), 2000))
		}
		return c
	}
	// The provider has billed the call: the row is retried while the
	// database does not answer (DBPatience), so that the usage is kept.
	err := s.persist(sys, func(ctx context.Context) error { return row(nonEmpty(m.chatID), nonEmpty(m.runID)).Exec(ctx) })
	if err != nil && ent.IsConstraintError(err) {
		// The chat or run was deleted while the call ran: the row stays
		// for accounting, without them.
		err = s.persist(sys, func(ctx context.Context) error { return row(nil, nil).Exec(ctx) })
	}
	if err != nil {
		s.cfg.Logger.Error().Err(err).Str("run", m.runID).Msg("record model usage")
	}
}

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
		"interpreter", "followups",
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
// feedback on the answer refers to): no temperature for a reasoning model,
// which takes none of the user's (its own, 1, is used).
func (s *Service) recordModel(rc *runContext, mc *modelsetting.Choice) {
	provider := ""
	if mc.Provider != nil {
		provider = mc.Provider.Name()
	}
	// Update, not UpdateOne: nothing needs the row read back (UpdateOne's
	// SELECT, and its own transaction, are three round trips more).
	upd := s.cfg.DB.Run.Update().Where(run.ID(rc.run.ID)).SetModelProvider(provider).SetModelName(mc.Model).
		SetModelMaxTokens(mc.MaxTokens)
	if s.cfg.Registry.IsReasoning(mc.Model) {
		upd.ClearModelTemperature() // it takes none: its own (1) is used
	} else {
		upd.SetModelTemperature(mc.Temperature)
	}
	err := upd.Exec(privacy.DecisionContext(rc.user, privacy.Allow))
	if err != nil {
		s.runLog(rc.user, rc.run.ID).Warn().Err(err).Msg("store the run's model settings")
	}
}
