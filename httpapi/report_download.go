package httpapi

import (
	"net/http"

	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/report"
	"github.com/autoanalyst/autoanalyst/resolvers"
)

// registerReportDownload serves GET /reports/{id}.html: a deep-analysis
// report's HTML, to its owner only (the bearer token as for /graphql; 401
// without one, 404 for another user's report or one without HTML yet).
func registerReportDownload(mux *http.ServeMux, r *resolvers.Resolver) {
	mux.Handle("GET /reports/{file}", r.Auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !authenticated(w, req) {
			return
		}
		id, ok := report.IDFromFile(req.PathValue("file"))
		if !ok {
			http.NotFound(w, req)
			return
		}
		rep, err := r.Reports.Get(req.Context(), id)
		if err != nil {
			if e, ok := errcode.As(err); !ok || e.Code != errcode.NotFound {
				r.Logger.Error().Err(err).Str("report", id).Msg("report download")
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
			http.NotFound(w, req)
			return
		}
		if rep.HTMLReport == "" {
			http.Error(w, "this report has no HTML yet (status "+string(rep.Status)+")", http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Disposition", `attachment; filename="`+rep.ID+`.html"`)
		h.Set("X-Content-Type-Options", "nosniff")
		// Opened in a browser, the page runs in an opaque origin: its
		// scripts (Plotly) work but cannot act as this site.
		h.Set("Content-Security-Policy", "sandbox allow-scripts")
		h.Set("Cache-Control", "private, no-store")
		w.Write([]byte(rep.HTMLReport))
	})))
}
