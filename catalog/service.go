package catalog

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/agenttemplate"
	"github.com/autoanalyst/autoanalyst/ent/predicate"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/user"
	"github.com/autoanalyst/autoanalyst/ent/usertemplatepreference"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// Service manages agent templates (built-in and custom) and each user's
// preferences: which templates are enabled, and how often they were used.
// Safe for concurrent use.
type Service struct {
	db *ent.Client
}

// New returns a Service on db.
func New(db *ent.Client) *Service { return &Service{db: db} }

func system(ctx context.Context) context.Context {
	return privacy.DecisionContext(ctx, privacy.Allow)
}

// SyncResult counts what a Sync changed.
type SyncResult struct {
	Created, Updated, Removed int
}

// Sync writes a configuration's templates into the database (created or
// updated by name) and deletes the built-in templates it lists under remove,
// with every user's preferences of them. Usage counts are kept. Sync is
// idempotent; concurrent syncs (several nodes starting) are retried once.
func (t *Service) Sync(ctx context.Context, cfg *TemplateConfig) (SyncResult, error) {
	res, err := t.sync(ctx, cfg)
	if ent.IsConstraintError(err) {
		res, err = t.sync(ctx, cfg) // another process inserted the same names meanwhile
	}
	return res, err
}

func (t *Service) sync(ctx context.Context, cfg *TemplateConfig) (SyncResult, error) {
	var res SyncResult
	sys := system(ctx)
	tx, err := t.db.Tx(sys)
	if err != nil {
		return res, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	for _, spec := range cfg.Templates {
		active := spec.Active == nil || *spec.Active
		existing, err := tx.AgentTemplate.Query().
			Where(agenttemplate.UserIDIsNil(), agenttemplate.Name(spec.Name)).Only(sys)
		switch {
		case ent.IsNotFound(err):
			err = tx.AgentTemplate.Create().SetName(spec.Name).SetDisplayName(spec.DisplayName).
				SetDescription(spec.Description).SetPrompt(spec.Prompt).SetIconURL(spec.IconURL).
				SetCategory(spec.Category).SetIsPremium(spec.Premium).
				SetVariant(agenttemplate.Variant(spec.Variant)).SetBaseAgent(spec.BaseAgent).
				SetIsActive(active).SetDefaultEnabled(spec.DefaultEnabled).Exec(sys)
			if err != nil {
				return res, fmt.Errorf("create template %s: %w", spec.Name, err)
			}
			res.Created++
		case err != nil:
			return res, fmt.Errorf("load template %s: %w", spec.Name, err)
		default:
			if sameAsSpec(existing, spec, active) {
				continue
			}
			err = existing.Update().SetDisplayName(spec.DisplayName).
				SetDescription(spec.Description).SetPrompt(spec.Prompt).SetIconURL(spec.IconURL).
				SetCategory(spec.Category).SetIsPremium(spec.Premium).
				SetVariant(agenttemplate.Variant(spec.Variant)).SetBaseAgent(spec.BaseAgent).
				SetIsActive(active).SetDefaultEnabled(spec.DefaultEnabled).Exec(sys)
			if err != nil {
				return res, fmt.Errorf("update template %s: %w", spec.Name, err)
			}
			res.Updated++
		}
	}
	if len(cfg.Remove) > 0 {
		n, err := tx.AgentTemplate.Delete().
			Where(agenttemplate.UserIDIsNil(), agenttemplate.NameIn(cfg.Remove...)).Exec(sys)
		if err != nil {
			return res, fmt.Errorf("remove templates: %w", err)
		}
		res.Removed = n
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit templates: %w", err)
	}
	return res, nil
}

func sameAsSpec(t *ent.AgentTemplate, s TemplateSpec, active bool) bool {
	return t.DisplayName == s.DisplayName && t.Description == s.Description && t.Prompt == s.Prompt &&
		t.IconURL == s.IconURL && t.Category == s.Category && t.IsPremium == s.Premium &&
		string(t.Variant) == s.Variant && t.BaseAgent == s.BaseAgent && t.IsActive == active &&
		t.DefaultEnabled == s.DefaultEnabled
}

// EnableDefaults enables the default templates (the four core agents) for a
// user who has no template enabled: a new user, one from before templates
// existed, or one whose templates a sync removed. Otherwise it changes
// nothing.
func (t *Service) EnableDefaults(ctx context.Context, userID string) error {
	return t.enableDefaults(system(ctx), t.db, userID)
}

func (t *Service) enableDefaults(sys context.Context, db *ent.Client, userID string) error {
	n, err := countEnabled(sys, db, userID)
	if err != nil || n > 0 {
		return err
	}
	ids, err := db.AgentTemplate.Query().
		Where(agenttemplate.UserIDIsNil(), agenttemplate.IsActive(true), agenttemplate.DefaultEnabled(true)).
		IDs(sys)
	if err != nil {
		return fmt.Errorf("list default templates: %w", err)
	}
	for _, id := range ids {
		if err := setPreference(sys, db, userID, Preference{TemplateID: id, Enabled: true}); err != nil {
			return fmt.Errorf("enable default templates for %s: %w", userID, err)
		}
	}
	return nil
}

// visible limits templates to the active built-in ones and the user's own.
func visible(userID string) predicate.AgentTemplate {
	return agenttemplate.And(agenttemplate.IsActive(true),
		agenttemplate.Or(agenttemplate.UserIDIsNil(), agenttemplate.UserID(userID)))
}

// VariantFilter selects templates by how they may be used.
type VariantFilter string

// Variant filters.
const (
	VariantAll        VariantFilter = "ALL"
	VariantIndividual VariantFilter = "INDIVIDUAL"
	VariantPlanner    VariantFilter = "PLANNER"
)

// Query returns the templates the viewer sees, with the viewer's preference
// of each loaded (for Enabled), optionally of one variant and category.
func (t *Service) Query(ctx context.Context, userID string, variant VariantFilter, category string) *ent.AgentTemplateQuery {
	q := t.db.AgentTemplate.Query().Where(visible(userID))
	switch variant {
	case VariantIndividual:
		q.Where(agenttemplate.VariantIn(agenttemplate.VariantINDIVIDUAL, agenttemplate.VariantBOTH))
	case VariantPlanner:
		q.Where(agenttemplate.VariantIn(agenttemplate.VariantPLANNER, agenttemplate.VariantBOTH))
	}
	if category != "" {
		q.Where(agenttemplate.Category(category))
	}
	return q.WithPreferences(func(pq *ent.UserTemplatePreferenceQuery) {
		pq.Where(usertemplatepreference.UserID(userID))
	})
}

// Categories returns the categories of the templates the viewer sees, sorted.
func (t *Service) Categories(ctx context.Context, userID string) ([]string, error) {
	cs, err := t.db.AgentTemplate.Query().Where(visible(userID)).Unique(true).
		Select(agenttemplate.FieldCategory).Strings(ctx)
	if err != nil {
		return nil, fmt.Errorf("list template categories: %w", err)
	}
	cs = slices.DeleteFunc(cs, func(c string) bool { return c == "" })
	slices.Sort(cs)
	return slices.Compact(cs), nil
}

// Enabled reports whether the user has the template enabled, from its loaded
// preferences when Query loaded them.
func (t *Service) Enabled(ctx context.Context, userID string, tpl *ent.AgentTemplate) (bool, error) {
	if prefs, err := tpl.Edges.PreferencesOrErr(); err == nil {
		for _, p := range prefs {
			if p.UserID == userID {
				return p.IsEnabled, nil
			}
		}
		return false, nil
	}
	p, err := t.db.UserTemplatePreference.Query().
		Where(usertemplatepreference.UserID(userID), usertemplatepreference.TemplateID(tpl.ID)).Only(system(ctx))
	if ent.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load preference of template %s: %w", tpl.ID, err)
	}
	return p.IsEnabled, nil
}

// Preference is one wanted state of a template.
type Preference struct {
	TemplateID string
	Enabled    bool
}

// SetEnabled applies preferences for the viewer, all or nothing: afterwards
// 1 to MaxEnabledTemplates templates must be enabled. Premium templates are
// refused to FREE users. field names the input in errors: "" for the single
// toggle (errors name templateID and enabled), "input" for the bulk one
// (input, input[i].templateID). The templates are returned in input order.
func (t *Service) SetEnabled(ctx context.Context, v *viewer.Viewer, prefs []Preference, field string) ([]*ent.AgentTemplate, error) {
	single := field == ""
	idField := func(i int) string {
		if single {
			return "templateID"
		}
		return fmt.Sprintf("%s[%d].templateID", field, i)
	}
	if len(prefs) == 0 {
		return nil, errcode.Field(field, "name at least one template")
	}
	if len(prefs) > 100 {
		return nil, &errcode.Error{Code: errcode.LimitExceeded, Field: field, Message: "at most 100 preferences at once"}
	}
	ids := make([]string, len(prefs))
	for i, p := range prefs {
		if slices.Contains(ids[:i], p.TemplateID) {
			return nil, errcode.Field(idField(i), "template %s is listed twice", p.TemplateID)
		}
		ids[i] = p.TemplateID
	}
	sys := system(ctx)
	err := t.inTx(sys, v.UserID, func(tx *ent.Client) error {
		if err := t.enableDefaults(sys, tx, v.UserID); err != nil {
			return err
		}
		tpls, err := tx.AgentTemplate.Query().Where(agenttemplate.IDIn(ids...), visible(v.UserID)).All(sys)
		if err != nil {
			return fmt.Errorf("load templates: %w", err)
		}
		byID := map[string]*ent.AgentTemplate{}
		for _, tp := range tpls {
			byID[tp.ID] = tp
		}
		for i, p := range prefs {
			tp := byID[p.TemplateID]
			if tp == nil {
				return &errcode.Error{Code: errcode.NotFound, Field: idField(i), Message: "template not found"}
			}
			if p.Enabled && tp.IsPremium && v.Plan != string(user.PlanPRO) {
				return &errcode.Error{Code: errcode.PremiumRequired, Field: idField(i),
					Message: fmt.Sprintf("%s is a premium template: it needs the PRO plan", tp.Name)}
			}
		}
		for _, p := range prefs {
			if err := setPreference(sys, tx, v.UserID, p); err != nil {
				return err
			}
		}
		n, err := countEnabled(sys, tx, v.UserID)
		if err != nil {
			return err
		}
		switch {
		case n > MaxEnabledTemplates:
			f := field
			if single {
				f = "templateID"
			}
			return &errcode.Error{Code: errcode.LimitExceeded, Field: f,
				Message: fmt.Sprintf("at most %d templates may be enabled (this would enable %d)", MaxEnabledTemplates, n)}
		case n < 1:
			f := field
			if single {
				f = "enabled"
			}
			return errcode.Field(f, "at least one template must stay enabled")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t.load(ctx, v.UserID, ids)
}

// inTx runs fn in a transaction that first writes the user's row, so that
// concurrent preference changes of one user wait for each other (a row lock
// on PostgreSQL; SQLite has one writer anyway) and the limits hold.
func (t *Service) inTx(sys context.Context, userID string, fn func(tx *ent.Client) error) error {
	tx, err := t.db.Tx(sys)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := tx.User.UpdateOneID(userID).SetUpdatedAt(time.Now()).Exec(sys); err != nil {
		return fmt.Errorf("lock user %s: %w", userID, err)
	}
	if err := fn(tx.Client()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit preferences: %w", err)
	}
	return nil
}

func setPreference(sys context.Context, db *ent.Client, userID string, p Preference) error {
	err := db.UserTemplatePreference.Create().SetUserID(userID).SetTemplateID(p.TemplateID).SetIsEnabled(p.Enabled).
		OnConflict(sql.ConflictColumns(usertemplatepreference.FieldUserID, usertemplatepreference.FieldTemplateID)).
		Update(func(u *ent.UserTemplatePreferenceUpsert) { u.SetIsEnabled(p.Enabled).UpdateUpdatedAt() }).
		Exec(sys)
	if err != nil {
		return fmt.Errorf("set preference of template %s: %w", p.TemplateID, err)
	}
	return nil
}

// countEnabled counts the user's enabled templates that are still offered.
func countEnabled(sys context.Context, db *ent.Client, userID string) (int, error) {
	n, err := db.UserTemplatePreference.Query().
		Where(usertemplatepreference.UserID(userID), usertemplatepreference.IsEnabled(true),
			usertemplatepreference.HasTemplateWith(visible(userID))).Count(sys)
	if err != nil {
		return 0, fmt.Errorf("count enabled templates: %w", err)
	}
	return n, nil
}

// load returns templates by id, in that order, with the user's preferences.
func (t *Service) load(ctx context.Context, userID string, ids []string) ([]*ent.AgentTemplate, error) {
	tpls, err := t.Query(ctx, userID, VariantAll, "").Where(agenttemplate.IDIn(ids...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("load templates: %w", err)
	}
	out := make([]*ent.AgentTemplate, 0, len(ids))
	for _, id := range ids {
		for _, tp := range tpls {
			if tp.ID == id {
				out = append(out, tp)
			}
		}
	}
	if len(out) != len(ids) {
		return nil, errcode.New(errcode.NotFound, "template not found")
	}
	return out, nil
}

// TemplateInput is a custom template's fields; nil leaves a field unchanged
// (on update) or takes its default (on create).
type TemplateInput struct {
	Name        string
	DisplayName *string
	Description *string
	Prompt      *string
	Category    *string
	Variant     *agenttemplate.Variant
}

func (in *TemplateInput) check(create bool) error {
	if create {
		in.Name = strings.TrimSpace(in.Name)
		if !isIdentifier(in.Name) {
			return errcode.Field("name", "must be a Python identifier (letters, digits, _; not starting with a digit; not a keyword) of at most %d characters", maxTemplateName)
		}
		if in.Prompt == nil {
			return errcode.Field("prompt", "is required")
		}
		if in.Category == nil {
			return errcode.Field("category", "is required")
		}
	}
	trim := func(p *string) {
		if p != nil {
			*p = strings.TrimSpace(*p)
		}
	}
	trim(in.DisplayName)
	trim(in.Description)
	trim(in.Prompt)
	trim(in.Category)
	switch {
	case in.DisplayName != nil && utf8.RuneCountInString(*in.DisplayName) > maxDisplayName:
		return errcode.Field("displayName", "must be at most %d characters", maxDisplayName)
	case in.Description != nil && utf8.RuneCountInString(*in.Description) > maxDescription:
		return errcode.Field("description", "must be at most %d characters", maxDescription)
	case in.Prompt != nil && (*in.Prompt == "" || utf8.RuneCountInString(*in.Prompt) > maxPrompt):
		return errcode.Field("prompt", "must be 1 to %d characters", maxPrompt)
	case in.Category != nil && !slices.Contains(Categories, *in.Category):
		return errcode.Field("category", "must be one of %s", strings.Join(Categories, ", "))
	case in.Variant != nil && agenttemplate.VariantValidator(*in.Variant) != nil:
		return errcode.Field("variant", "must be INDIVIDUAL, PLANNER or BOTH")
	}
	return nil
}

// Create creates a custom template of the viewer. It is enabled when fewer
// than MaxEnabledTemplates templates are.
func (t *Service) Create(ctx context.Context, v *viewer.Viewer, in TemplateInput) (*ent.AgentTemplate, error) {
	if err := in.check(true); err != nil {
		return nil, err
	}
	sys := system(ctx)
	var id string
	err := t.inTx(sys, v.UserID, func(tx *ent.Client) error {
		n, err := tx.AgentTemplate.Query().Where(agenttemplate.UserID(v.UserID)).Count(sys)
		if err != nil {
			return fmt.Errorf("count custom templates: %w", err)
		}
		if n >= MaxCustomTemplates {
			return &errcode.Error{Code: errcode.LimitExceeded, Field: "name", Message: fmt.Sprintf("at most %d custom templates", MaxCustomTemplates)}
		}
		taken, err := tx.AgentTemplate.Query().Where(agenttemplate.Name(in.Name),
			agenttemplate.Or(agenttemplate.UserIDIsNil(), agenttemplate.UserID(v.UserID))).Exist(sys)
		if err != nil {
			return fmt.Errorf("check template name: %w", err)
		}
		if taken {
			return errcode.Field("name", "a template named %s exists already", in.Name)
		}
		if err := t.enableDefaults(sys, tx, v.UserID); err != nil {
			return err
		}
		c := tx.AgentTemplate.Create().SetUserID(v.UserID).SetName(in.Name).
			SetPrompt(*in.Prompt).SetCategory(*in.Category).SetDisplayName(in.Name)
		if in.DisplayName != nil && *in.DisplayName != "" {
			c.SetDisplayName(*in.DisplayName)
		}
		if in.Description != nil {
			c.SetDescription(*in.Description)
		}
		if in.Variant != nil {
			c.SetVariant(*in.Variant)
		}
		tpl, err := c.Save(sys)
		if err != nil {
			return fmt.Errorf("create template %s: %w", in.Name, err)
		}
		id = tpl.ID
		enabled, err := countEnabled(sys, tx, v.UserID)
		if err != nil {
			return err
		}
		return setPreference(sys, tx, v.UserID, Preference{TemplateID: id, Enabled: enabled < MaxEnabledTemplates})
	})
	if err != nil {
		return nil, err
	}
	tpls, err := t.load(ctx, v.UserID, []string{id})
	if err != nil {
		return nil, err
	}
	return tpls[0], nil
}

// custom loads one of the viewer's custom templates: a built-in template is
// a BAD_USER_INPUT error, another user's is not found.
func (t *Service) custom(ctx context.Context, userID, id string) (*ent.AgentTemplate, error) {
	tpl, err := t.db.AgentTemplate.Query().Where(agenttemplate.ID(id), visible(userID)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "template not found"}
	}
	if err != nil {
		return nil, fmt.Errorf("load template %s: %w", id, err)
	}
	if tpl.UserID == nil {
		return nil, errcode.Field("id", "%s is a built-in template: only custom templates can be changed or deleted", tpl.Name)
	}
	return tpl, nil
}

// Update changes one of the viewer's custom templates.
func (t *Service) Update(ctx context.Context, v *viewer.Viewer, id string, in TemplateInput) (*ent.AgentTemplate, error) {
	if err := in.check(false); err != nil {
		return nil, err
	}
	tpl, err := t.custom(ctx, v.UserID, id)
	if err != nil {
		return nil, err
	}
	u := tpl.Update()
	if in.DisplayName != nil {
		u.SetDisplayName(*in.DisplayName)
		if *in.DisplayName == "" {
			u.SetDisplayName(tpl.Name)
		}
	}
	if in.Description != nil {
		u.SetDescription(*in.Description)
	}
	if in.Prompt != nil {
		u.SetPrompt(*in.Prompt)
	}
	if in.Category != nil {
		u.SetCategory(*in.Category)
	}
	if in.Variant != nil {
		u.SetVariant(*in.Variant)
	}
	if err := u.Exec(ctx); err != nil {
		return nil, fmt.Errorf("update template %s: %w", id, err)
	}
	tpls, err := t.load(ctx, v.UserID, []string{id})
	if err != nil {
		return nil, err
	}
	return tpls[0], nil
}

// Delete deletes one of the viewer's custom templates, unless it is the only
// one enabled.
func (t *Service) Delete(ctx context.Context, v *viewer.Viewer, id string) error {
	if _, err := t.custom(ctx, v.UserID, id); err != nil {
		return err
	}
	sys := system(ctx)
	return t.inTx(sys, v.UserID, func(tx *ent.Client) error {
		if err := tx.AgentTemplate.DeleteOneID(id).Exec(sys); err != nil {
			return fmt.Errorf("delete template %s: %w", id, err)
		}
		n, err := countEnabled(sys, tx, v.UserID)
		if err != nil {
			return err
		}
		if n < 1 {
			return errcode.Field("id", "this is your only enabled template: enable another one first")
		}
		return nil
	})
}

// RecordUse counts one use of the agent named name by a user's run: in the
// user's preference and in the template's global count. Unknown names are
// ignored.
func (t *Service) RecordUse(ctx context.Context, userID, name string) error {
	sys := system(ctx)
	tpls, err := t.db.AgentTemplate.Query().Where(visible(userID), agenttemplate.Name(name)).All(sys)
	if err != nil {
		return fmt.Errorf("load template %s: %w", name, err)
	}
	if len(tpls) == 0 {
		return nil
	}
	tpl := tpls[0]
	for _, c := range tpls {
		if c.UserID == nil { // a built-in name is never shadowed by a custom one
			tpl = c
		}
	}
	now := time.Now()
	tx, err := t.db.Tx(sys)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	err = tx.UserTemplatePreference.Create().SetUserID(userID).SetTemplateID(tpl.ID).
		SetUsageCount(1).SetLastUsedAt(now).
		OnConflict(sql.ConflictColumns(usertemplatepreference.FieldUserID, usertemplatepreference.FieldTemplateID)).
		Update(func(u *ent.UserTemplatePreferenceUpsert) { u.AddUsageCount(1).SetLastUsedAt(now) }).
		Exec(sys)
	if err != nil {
		return fmt.Errorf("count use of template %s: %w", name, err)
	}
	if err := tx.AgentTemplate.UpdateOneID(tpl.ID).AddUsageCount(1).Exec(sys); err != nil {
		return fmt.Errorf("count use of template %s: %w", name, err)
	}
	return tx.Commit()
}

// ForRun returns the templates a user's run may use (the active built-in
// ones and the user's own), with the user's preferences loaded.
func (t *Service) ForRun(ctx context.Context, userID string) ([]*ent.AgentTemplate, error) {
	sys := system(ctx)
	tpls, err := t.db.AgentTemplate.Query().Where(visible(userID)).
		WithPreferences(func(pq *ent.UserTemplatePreferenceQuery) { pq.Where(usertemplatepreference.UserID(userID)) }).
		Order(ent.Asc(agenttemplate.FieldName)).All(sys)
	if err != nil {
		return nil, fmt.Errorf("load templates of %s: %w", userID, err)
	}
	return tpls, nil
}
