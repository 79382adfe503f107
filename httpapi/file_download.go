package httpapi

import (
	"mime"
	"net/http"

	"github.com/autoanalyst/autoanalyst/errcode"
	"github.com/autoanalyst/autoanalyst/resolvers"
)

// registerFileDownload serves GET /files/{id}: an output file (a file code
// wrote to /tmp/outputs), to its owner only, as report downloads are (the
// bearer token as for /graphql; 401 without one, 404 for another user's
// file or a missing one). It is always an attachment, named with its safe
// name, never sniffed, and never HTML.
func registerFileDownload(mux *http.ServeMux, r *resolvers.Resolver) {
	mux.Handle("GET /files/{id}", r.Auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !authenticated(w, req) {
			return
		}
		id := req.PathValue("id")
		f, file, err := r.Runs.OpenFile(req.Context(), id)
		if err != nil {
			if e, ok := errcode.As(err); !ok || e.Code != errcode.NotFound {
				r.Logger.Error().Err(err).Str("file", id).Msg("file download")
				http.Error(w, "internal error", http.StatusInternalServerError)
				return
			}
			http.NotFound(w, req)
			return
		}
		defer file.Close()
		h := w.Header()
		h.Set("Content-Type", f.MediaType)
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "sandbox")
		h.Set("Cache-Control", "private, no-store")
		http.ServeContent(w, req, "", f.CreatedAt, file)
	})))
}
