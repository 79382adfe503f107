package resolvers

import (
	"github.com/autoanalyst/autoanalyst/dataset"
	"github.com/autoanalyst/autoanalyst/graph/model"
)

// inspection maps the sandbox's view of an upload to its GraphQL type: an
// encoding or delimiter that does not apply is null.
func inspection(in *dataset.Inspection) *model.UploadInspection {
	out := &model.UploadInspection{Sheets: in.Sheets, Headers: in.Headers, Rows: in.Rows}
	if in.Encoding != "" {
		out.Encoding = &in.Encoding
	}
	if in.Delimiter != "" {
		out.Delimiter = &in.Delimiter
	}
	if out.Sheets == nil {
		out.Sheets = []string{}
	}
	if out.Headers == nil {
		out.Headers = []string{}
	}
	if out.Rows == nil {
		out.Rows = [][]string{}
	}
	return out
}
