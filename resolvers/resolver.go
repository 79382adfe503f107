// Package resolvers implements the GraphQL API: each resolver authorises,
// validates, calls a service and maps errors. No business logic lives here.
package resolvers

import (
	"github.com/rs/zerolog"

	"github.com/autoanalyst/autoanalyst/analytics"
	"github.com/autoanalyst/autoanalyst/auth"
	"github.com/autoanalyst/autoanalyst/catalog"
	"github.com/autoanalyst/autoanalyst/chat"
	"github.com/autoanalyst/autoanalyst/credit"
	"github.com/autoanalyst/autoanalyst/dataset"
	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/modelsetting"
	"github.com/autoanalyst/autoanalyst/orchestrator"
	"github.com/autoanalyst/autoanalyst/report"
)

// Resolver is the root resolver. Safe for concurrent use.
type Resolver struct {
	DB       *ent.Client
	Auth     *auth.Service
	Datasets *dataset.Service
	// Runs starts, cancels and follows runs.
	Runs *orchestrator.Service
	// Chats keeps the chats and the feedback on answers.
	Chats *chat.Service
	// TemplateService manages agent templates and the users' preferences.
	TemplateService *catalog.Service
	// Reports stores the deep-analysis reports.
	Reports *report.Store
	// Settings stores the users' model settings and lists the models.
	Settings *modelsetting.Service
	// Credits keeps the monthly allowances of credits.
	CreditService *credit.Service
	// Analytics answers usage and dashboard queries.
	Analytics *analytics.Service
	Logger    zerolog.Logger
}

// maxCleanCodeBytes bounds the program cleanCode takes (as sendMessage and
// executeCode bound theirs).
const maxCleanCodeBytes = 256 << 10
