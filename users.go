package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/database"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/privacy"
	"github.com/autoanalyst/autoanalyst/ent/user"
)

// setUserCommand gives the user of an email address a role (USER, ADMIN)
// and a plan (FREE, PRO): what an operator does, never the API.
func setUserCommand(ctx context.Context, email, role, plan string) error {
	if role == "" && plan == "" {
		return fmt.Errorf("users set: give --role (USER, ADMIN) or --plan (FREE, PRO)")
	}
	return withDatabase(ctx, func(_ *config, log zerolog.Logger, db *database.DB) error {
		return setUser(privacy.DecisionContext(ctx, privacy.Allow), log, db.Client, email, role, plan)
	})
}

// setUser updates the user of email with the system's privacy decision.
func setUser(sys context.Context, log zerolog.Logger, db *ent.Client, email, role, plan string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	u, err := db.User.Query().Where(user.Email(email)).Only(sys)
	if ent.IsNotFound(err) {
		return fmt.Errorf("users set: no user has the email %q", email)
	}
	if err != nil {
		return fmt.Errorf("users set: load %s: %w", email, err)
	}
	upd := u.Update()
	if role != "" {
		r := user.Role(strings.ToUpper(role))
		if err := user.RoleValidator(r); err != nil {
			return fmt.Errorf("users set: --role must be USER or ADMIN, not %q", role)
		}
		upd.SetRole(r)
	}
	if plan != "" {
		p := user.Plan(strings.ToUpper(plan))
		if err := user.PlanValidator(p); err != nil {
			return fmt.Errorf("users set: --plan must be FREE or PRO, not %q", plan)
		}
		upd.SetPlan(p)
	}
	if u, err = upd.Save(sys); err != nil {
		return fmt.Errorf("users set: update %s: %w", email, err)
	}
	log.Info().Str("user", u.ID).Str("email", email).Str("role", string(u.Role)).Str("plan", string(u.Plan)).Msg("user updated")
	return nil
}
