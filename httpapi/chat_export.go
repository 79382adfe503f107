package httpapi

import (
	"net/http"
	"strings"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/export"
	"github.com/autoanalyst/autoanalyst/resolvers"
)

// registerChatExport serves GET /chats/{id}.ipynb and /chats/{id}.md: one
// of the viewer's chats as a Jupyter notebook or as Markdown (package
// export), to its owner only (the bearer token as for /graphql; 401 without
// one, 404 for another user's chat or another extension).
func registerChatExport(mux *http.ServeMux, r *resolvers.Resolver) {
	mux.Handle("GET /chats/{file}", r.Auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !authenticated(w, req) {
			return
		}
		id, f, ok := chatExportFile(req.PathValue("file"))
		if !ok {
			http.NotFound(w, req)
			return
		}
		file, err := r.Chats.Export(req.Context(), id, f)
		if err != nil {
			if e, ok := errcode.As(err); !ok || e.Code != errcode.NotFound {
				r.Logger.Error().Err(err).Str("chat", id).Msg("chat export")
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
			http.NotFound(w, req)
			return
		}
		h := w.Header()
		h.Set("Content-Type", file.MediaType)
		h.Set("Content-Disposition", `attachment; filename="`+file.Filename+`"`)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "sandbox")
		h.Set("Cache-Control", "private, no-store")
		w.Write(file.Content)
	})))
}

// chatExportFile is the chat ID and format of an export's file name
// ("cht_….ipynb", "cht_….md").
func chatExportFile(name string) (id string, f export.Format, ok bool) {
	if id, ok = strings.CutSuffix(name, ".ipynb"); ok {
		f = export.FormatNotebook
	} else if id, ok = strings.CutSuffix(name, ".md"); ok {
		f = export.FormatMarkdown
	}
	return id, f, ok && id != "" && !strings.ContainsAny(id, "/.")
}

// authenticated says whether a download request has a viewer; without one
// it answers 401.
func authenticated(w http.ResponseWriter, req *http.Request) bool {
	if v := viewer.FromContext(req.Context()); v == nil || v.UserID == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="autoanalyst"`)
		http.Error(w, "authentication required: send Authorization: Bearer <token>", http.StatusUnauthorized)
		return false
	}
	return true
}
