package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/autoanalyst/autoanalyst/auth/viewer"
	"github.com/autoanalyst/autoanalyst/errcode"
)

// maxMapBytes bounds the map part of a multipart request.
const maxMapBytes = 64 << 10

// uploadTransport serves the GraphQL multipart request specification
// (https://github.com/jaydenseric/graphql-multipart-request-spec): an
// operations part, a map part, then the files. It refuses a request without
// a signed-in viewer before reading its body, reads at most maxBody bytes
// in all (declared or chunked), takes at most maxFiles files, and spools
// every file to a temporary file, removed when the request ends, so that an
// upload never sits in memory. It is safe for concurrent use.
type uploadTransport struct {
	maxBody   int64 // the whole body: UPLOAD_MAX_BYTES and room for the rest
	maxParams int64 // the operations part: MAX_REQUEST_BYTES
	maxQuery  int   // bytes of a document
	maxFiles  int
	limitName string // the setting that sets maxBody, for errors
}

var _ graphql.Transport = uploadTransport{}

// Supports reports whether r is a multipart/form-data POST.
func (uploadTransport) Supports(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return r.Method == http.MethodPost && mt == "multipart/form-data" && r.Header.Get("Upgrade") == ""
}

// uploadError is a refusal with its status and code.
type uploadError struct {
	status int
	code   errcode.Code
	msg    string
}

func (e *uploadError) Error() string { return e.msg }

func badUpload(format string, args ...any) *uploadError {
	return &uploadError{http.StatusBadRequest, errcode.BadUserInput, fmt.Sprintf(format, args...)}
}

// Do reads the request and runs its operation.
func (t uploadTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media, ok := responseMedia(r.Header.Values("Accept"))
	if !ok {
		media = mediaJSON
	}
	if v := viewer.FromContext(r.Context()); v == nil || v.UserID == "" {
		writeResponse(w, media, http.StatusUnauthorized, requestError(errcode.Unauthenticated,
			"uploads need authentication: send Authorization: Bearer <token> (createGuestSession gives one)"))
		return
	}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	params, err := t.read(w, r, &files)
	if err != nil {
		var ue *uploadError
		if !errors.As(err, &ue) {
			ue = badUpload("the multipart request could not be read")
		}
		writeResponse(w, media, ue.status, requestError(ue.code, ue.msg))
		return
	}
	execute(w, r, exec, params, media)
}

// read parses the multipart body into params, the files spooled to disk
// (appended to files, which the caller removes).
func (t uploadTransport) read(w http.ResponseWriter, r *http.Request, files *[]*os.File) (*graphql.RawParams, error) {
	tooLarge := &uploadError{http.StatusRequestEntityTooLarge, errcode.LimitExceeded,
		fmt.Sprintf("the upload is over the limit of %d bytes (%s)", t.maxBody, t.limitName)}
	if r.ContentLength > t.maxBody {
		return nil, tooLarge
	}
	r.Body = http.MaxBytesReader(w, r.Body, t.maxBody)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badUpload("the body is not multipart/form-data with a boundary")
	}
	wrap := func(err error, what string) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge
		}
		return badUpload("%s", what)
	}

	part, err := mr.NextPart()
	if err != nil || part.FormName() != "operations" {
		return nil, wrap(err, `the first part must be "operations" (the GraphQL request as JSON)`)
	}
	ops, err := readPart(part, t.maxParams)
	if err != nil {
		return nil, wrap(err, `the "operations" part is over MAX_REQUEST_BYTES or cannot be read`)
	}
	params, err := decodeParams(ops, t.maxQuery)
	if err != nil {
		return nil, badUpload("operations: %s", err)
	}

	part, err = mr.NextPart()
	if err != nil || part.FormName() != "map" {
		return nil, wrap(err, `the second part must be "map" (which file goes to which variable)`)
	}
	raw, err := readPart(part, maxMapBytes)
	if err != nil {
		return nil, wrap(err, fmt.Sprintf(`the "map" part is over %d bytes or cannot be read`, maxMapBytes))
	}
	var fileMap map[string][]string
	if err := strictDecode(raw, &fileMap); err != nil {
		return nil, badUpload(`map must be a JSON object of file names to lists of paths ({"0": ["variables.file"]})`)
	}
	if len(fileMap) > t.maxFiles {
		return nil, &uploadError{http.StatusBadRequest, errcode.LimitExceeded,
			fmt.Sprintf("the request maps %d files: at most %d may be sent at once", len(fileMap), t.maxFiles)}
	}
	for name, paths := range fileMap {
		if len(paths) == 0 {
			return nil, badUpload("map: file %q has no path", name)
		}
		for _, p := range paths {
			if err := checkUploadPath(params.Variables, p); err != nil {
				return nil, badUpload("map: file %q: %s", name, err)
			}
		}
	}

	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, wrap(err, "a file part cannot be read")
		}
		name := part.FormName()
		paths, ok := fileMap[name]
		if !ok {
			return nil, badUpload("part %q is not in the map (or is sent twice)", name)
		}
		delete(fileMap, name)
		f, err := os.CreateTemp("", "autoanalyst-upload-")
		if err != nil {
			return nil, &uploadError{http.StatusServiceUnavailable, errcode.Unavailable, "the upload cannot be stored for now"}
		}
		*files = append(*files, f)
		size, err := io.Copy(f, part)
		if err != nil {
			return nil, wrap(err, fmt.Sprintf("file %q cannot be read", name))
		}
		for _, p := range paths {
			rd, err := os.Open(f.Name())
			if err != nil {
				return nil, &uploadError{http.StatusServiceUnavailable, errcode.Unavailable, "the upload cannot be stored for now"}
			}
			*files = append(*files, rd)
			setUpload(params.Variables, p, graphql.Upload{
				File: rd, Size: size, Filename: part.FileName(), ContentType: part.Header.Get("Content-Type"),
			})
		}
	}
	for name := range fileMap {
		return nil, badUpload("map names file %q, but the request has no such part", name)
	}
	return params, nil
}

// readPart reads a part of at most max bytes.
func readPart(p *multipart.Part, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(p, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errors.New("part too large")
	}
	return b, nil
}

// checkUploadPath checks that path ("variables.file", "variables.files.1")
// names a null in vars, where a file can go.
func checkUploadPath(vars map[string]any, path string) error {
	rest, ok := strings.CutPrefix(path, "variables.")
	if !ok {
		return fmt.Errorf("path %q must start with \"variables.\"", path)
	}
	var at any = vars
	walked := "variables"
	for _, seg := range strings.Split(rest, ".") {
		switch v := at.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return fmt.Errorf("path %q: %s has no entry %q", path, walked, seg)
			}
			at = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(v) {
				return fmt.Errorf("path %q: %s has no index %q", path, walked, seg)
			}
			at = v[i]
		default:
			return fmt.Errorf("path %q: %s is not an object or a list", path, walked)
		}
		walked += "." + seg
	}
	if at != nil {
		return fmt.Errorf("path %q must point to a null variable (the file's place)", path)
	}
	return nil
}

// setUpload puts u at path, which checkUploadPath has accepted.
func setUpload(vars map[string]any, path string, u graphql.Upload) {
	segs := strings.Split(strings.TrimPrefix(path, "variables."), ".")
	var at any = vars
	for i, seg := range segs {
		last := i == len(segs)-1
		switch v := at.(type) {
		case map[string]any:
			if last {
				v[seg] = u
			} else {
				at = v[seg]
			}
		case []any:
			n, _ := strconv.Atoi(seg)
			if last {
				v[n] = u
			} else {
				at = v[n]
			}
		}
	}
}
