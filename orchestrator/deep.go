package orchestrator

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/deepanalysisreport"
	"github.com/autoanalyst/autoanalyst/ent/modelusage"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/executor"
	"github.com/autoanalyst/autoanalyst/report"
)

// MaxDeepGoalChars bounds the goal of a deep analysis.
const MaxDeepGoalChars = 4000

// StartDeepAnalysis starts a deep analysis of a chat's datasets towards goal.
// Its report is created at once (PENDING) and linked to the returned run.
func (s *Service) StartDeepAnalysis(ctx context.Context, chatID, goal string) (*ent.Run, error) {
	goal = strings.TrimSpace(goal)
	if goal == "" || utf8.RuneCountInString(goal) > MaxDeepGoalChars {
		return nil, errcode.Field("goal", "must be 1 to %d characters", MaxDeepGoalChars)
	}
	r, err := s.start(ctx, run.KindDEEP_ANALYSIS, chatID, runInput{Content: goal}, "")
	if err != nil {
		return nil, err
	}
	// The worker creates the report too when it gets there first.
	if _, err := s.ensureReport(ctx, r, goal); err != nil {
		s.cfg.Logger.Warn().Err(err).Str("run", r.ID).Msg("create the deep-analysis report")
	}
	return r, nil
}

// ensureReport returns the report of a deep-analysis run, creating it
// (PENDING) when it does not exist yet.
func (s *Service) ensureReport(ctx context.Context, r *ent.Run, goal string) (*ent.DeepAnalysisReport, error) {
	for attempt := 0; ; attempt++ {
		rep, err := s.cfg.DB.DeepAnalysisReport.Query().Where(deepanalysisreport.RunID(r.ID)).Only(ctx)
		if err == nil {
			return rep, nil
		}
		if !ent.IsNotFound(err) {
			return nil, fmt.Errorf("look up the report of run %s: %w", r.ID, err)
		}
		c := s.cfg.DB.DeepAnalysisReport.Create().SetUserID(r.UserID).SetUUID(uuid.NewString()).
			SetRunID(r.ID).SetGoal(goal).SetStatus(deepanalysisreport.StatusPENDING)
		if r.ChatID != nil {
			c.SetChatID(*r.ChatID)
		}
		rep, err = c.Save(ctx)
		if err == nil {
			return rep, nil
		}
		// Created meanwhile by the other side (the run_id is unique): read it.
		if !ent.IsConstraintError(err) || attempt > 0 {
			return nil, fmt.Errorf("create the report of run %s: %w", r.ID, err)
		}
	}
}

// failReport ends the unfinished report of a run that ended without it
// (failed or cancelled at any point, even before it started). finish calls
// it for every run that does not succeed.
func (s *Service) failReport(ctx context.Context, runID string, st run.Status, errText string) {
	msg := "cancelled by the user before the report was complete"
	if st != run.StatusCANCELLED {
		msg = "the deep analysis failed: " + errText
	}
	now := time.Now()
	err := s.cfg.DB.DeepAnalysisReport.Update().
		Where(deepanalysisreport.RunID(runID), deepanalysisreport.StatusIn(deepanalysisreport.StatusPENDING, deepanalysisreport.StatusRUNNING)).
		SetStatus(deepanalysisreport.StatusFAILED).SetErrorMessage(truncate(msg, 2000)).SetEndTime(now).
		Exec(ctx)
	if err != nil {
		s.runLog(ctx, runID).Error().Err(err).Msg("mark the deep-analysis report failed")
	}
}

// deepRun is the state of one deep analysis, filled in step by step.
type deepRun struct {
	t        *turn
	reportID string
	goal     string
	started  time.Time

	questions  []string
	plan       *Plan
	outs       []agentOutput
	code       string
	result     *executor.Result
	synthesis  string
	conclusion conclusion
	completed  []string
	progress   int
}

// deepAnalysis is the DEEP_ANALYSIS run: the seven steps, the report row
// updated after each, and the HTML page at the end.
func (s *Service) deepAnalysis(rc *runContext) error {
	goal := strings.TrimSpace(rc.in.Content)
	if goal == "" {
		return &runError{code: CodeBadInput, msg: "the deep analysis has no goal"}
	}
	rep, err := s.ensureReport(rc.user, rc.run, goal)
	if err != nil {
		return err
	}
	if rep.Status == deepanalysisreport.StatusCOMPLETED {
		// An earlier attempt of this run finished the report (and stopped
		// before it could end the run): nothing to do again.
		done := 100
		rc.emit(EventStep, eventData{Agent: deepAgent, Text: "report ready: " + report.DownloadPath(rep.ID), Progress: &done})
		return nil
	}
	t, err := s.codeTurn(rc)
	if err != nil {
		return err
	}
	if t.agents, err = s.turnAgents(rc); err != nil {
		return err
	}
	d := &deepRun{t: t, reportID: rep.ID, goal: goal, started: time.Now()}
	// A run taken over from a worker that stopped goes on from what that
	// attempt stored (see resume).
	skip := resume(d, rep)
	if len(skip) > 0 && rep.StartTime != nil {
		d.started = *rep.StartTime
	}
	upd := s.cfg.DB.DeepAnalysisReport.UpdateOneID(rep.ID).
		SetStatus(deepanalysisreport.StatusRUNNING).SetStartTime(d.started).ClearEndTime().ClearErrorMessage().
		SetModelProvider(t.model.Provider.Name()).SetModelName(t.model.Model)
	if len(skip) == 0 {
		upd.SetProgressPercentage(0).ClearStepsCompleted()
	}
	err = upd.Exec(rc.user)
	if err != nil {
		return fmt.Errorf("mark report %s running: %w", rep.ID, err)
	}
	steps := s.deepSteps()
	for i, st := range steps {
		if err := rc.user.Err(); err != nil {
			return err
		}
		p := st.progress
		text := fmt.Sprintf("step %d of %d: %s", i+1, len(steps), st.title)
		if skip[st.name] {
			text += " (kept from an earlier attempt)"
		}
		rc.emit(EventStep, eventData{Agent: deepAgent, Text: text, Progress: &p})
		if !skip[st.name] {
			if err := st.run(d); err != nil {
				return err
			}
		}
		d.completed = append(d.completed, st.name)
		d.progress = 95 // 100 once the page exists
		if i+1 < len(steps) {
			d.progress = steps[i+1].progress
		}
		if err := s.saveReport(rc.user, d); err != nil {
			return err
		}
	}
	if err := s.completeReport(rc.user, d); err != nil {
		return err
	}
	done := 100
	rc.emit(EventStep, eventData{Agent: deepAgent, Text: "report ready: " + report.DownloadPath(d.reportID), Progress: &done})
	return nil
}

// deepAgent is the agent of a deep analysis's step announcements.
const deepAgent = "deep_analysis"

// saveReport writes what the steps so far produced into the report.
func (s *Service) saveReport(ctx context.Context, d *deepRun) error {
	u := s.cfg.DB.DeepAnalysisReport.UpdateOneID(d.reportID).
		SetProgressPercentage(d.progress).SetStepsCompleted(d.completed).
		SetDeepQuestions(d.questions).SetAnalysisCode(d.code).
		SetSynthesis(d.synthesis).SetFinalConclusion(d.conclusion.text)
	if d.plan != nil {
		if b, err := json.Marshal(d.plan); err == nil {
			u.SetDeepPlan(string(b))
		}
	}
	var summaries []string
	for _, o := range d.outs {
		if o.summary != "" {
			summaries = append(summaries, o.agent+": "+o.summary)
		}
	}
	u.SetSummaries(summaries)
	if d.result != nil {
		u.SetPlotlyFigures(d.result.Figures)
	}
	tokens, cost := s.runUsage(ctx, d.t.rc.run.ID)
	u.SetTotalTokensUsed(tokens).SetEstimatedCost(cost)
	if err := u.Exec(ctx); err != nil {
		return fmt.Errorf("update report %s: %w", d.reportID, err)
	}
	return nil
}

// runUsage sums the tokens and cost of a run's LLM calls.
func (s *Service) runUsage(ctx context.Context, runID string) (int, float64) {
	s.usage.wait(runID)
	rows, err := s.cfg.DB.ModelUsage.Query().Where(modelusage.RunID(runID)).
		Select(modelusage.FieldTotalTokens, modelusage.FieldCost).All(privacy.DecisionContext(ctx, privacy.Allow))
	if err != nil {
		s.runLog(ctx, runID).Warn().Err(err).Msg("sum the run's usage")
		return 0, 0
	}
	tokens, cost := 0, 0.0
	for _, r := range rows {
		tokens += r.TotalTokens
		cost += r.Cost
	}
	return tokens, cost
}

// completeReport renders the HTML page and ends the report COMPLETED.
func (s *Service) completeReport(ctx context.Context, d *deepRun) error {
	plotly := s.cfg.Plotly
	if plotly == nil {
		plotly = &report.PlotlyLoader{}
	}
	r := report.Report{
		Goal: d.goal, Questions: d.questions, Analysis: d.synthesis, Code: d.code,
		Conclusion: d.conclusion.text, KeyTakeaways: d.conclusion.takeaways, NextSteps: d.conclusion.nextSteps,
		Model: d.t.model.Model, GeneratedAt: time.Now(),
	}
	if d.conclusion.body != "" {
		r.Conclusion = d.conclusion.body
	}
	if d.result != nil {
		r.Figures, r.Images = d.result.Figures, d.result.Images
	}
	var assets report.Assets
	if len(r.Figures) > 0 {
		var err error
		if assets, err = plotly.Load(ctx); err != nil {
			return &runError{code: CodeInternal, msg: "the report's charts need plotly.js, which is not installed (python3-plotly)", err: err}
		}
	}
	html, err := report.HTML(r, assets)
	if err != nil {
		return fmt.Errorf("render report %s: %w", d.reportID, err)
	}
	end := time.Now()
	credits := 0
	if m, ok := s.cfg.Registry.Lookup(d.t.model.Model); ok {
		credits = m.Credits()
	}
	err = s.cfg.DB.DeepAnalysisReport.UpdateOneID(d.reportID).
		SetStatus(deepanalysisreport.StatusCOMPLETED).SetHTMLReport(html).
		SetReportSummary(truncate(strings.TrimSpace(r.Conclusion), 500)).
		SetEndTime(end).SetDurationSeconds(end.Sub(d.started).Seconds()).
		SetProgressPercentage(100).SetCreditsConsumed(credits).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("complete report %s: %w", d.reportID, err)
	}
	s.countUses(d.t.rc, d.outs)
	return nil
}
