package resolvers

import (
	"context"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/agenttemplate"
	"github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/codeexecution"
	"github.com/autoanalyst/autoanalyst/ent/dataset"
	"github.com/autoanalyst/autoanalyst/ent/deepanalysisreport"
	"github.com/autoanalyst/autoanalyst/ent/message"
	"github.com/autoanalyst/autoanalyst/ent/messagefeedback"
	"github.com/autoanalyst/autoanalyst/ent/modelusage"
	"github.com/autoanalyst/autoanalyst/ent/run"
	"github.com/autoanalyst/autoanalyst/ent/schema/pulid"
	"github.com/autoanalyst/autoanalyst/ent/user"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// nodeTables maps an id prefix to the table of the node types GraphQL exposes.
var nodeTables = map[string]string{
	"usr": user.Table,
	"dts": dataset.Table,
	"cht": chat.Table,
	"msg": message.Table,
	"run": run.Table,
	"cex": codeexecution.Table,
	"use": modelusage.Table,
	"fbk": messagefeedback.Table,
	"tpl": agenttemplate.Table,
	"rep": deepanalysisreport.Table,
}

// nodeType resolves the table of a global id from its prefix.
func nodeType(_ context.Context, id string) (string, error) {
	if t, ok := nodeTables[pulid.Prefix(id)]; ok {
		return t, nil
	}
	return "", &errcode.Error{Code: errcode.NotFound, Field: "id", Message: "no object with this id"}
}

var nodeOpt = ent.WithNodeType(nodeType)
