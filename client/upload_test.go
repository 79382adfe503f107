package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/client"
)

// multipartRequest is what a server read of a GraphQL multipart request.
type multipartRequest struct {
	auth       string
	parts      []string // form names in order
	operations map[string]any
	fileMap    map[string][]string
	filename   string
	fileType   string
	content    string
}

// readMultipart reads r as the multipart request spec has it: operations,
// map, then the files. onMap, if set, runs once the map has been read,
// before the file is.
func readMultipart(t *testing.T, r *http.Request, onMap func()) (*multipartRequest, error) {
	t.Helper()
	got := &multipartRequest{auth: r.Header.Get("Authorization")}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, err
	}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got.parts = append(got.parts, p.FormName())
		b, err := io.ReadAll(p)
		if err != nil {
			return got, err
		}
		switch p.FormName() {
		case "operations":
			if err := json.Unmarshal(b, &got.operations); err != nil {
				return got, err
			}
		case "map":
			if err := json.Unmarshal(b, &got.fileMap); err != nil {
				return got, err
			}
			if onMap != nil {
				onMap()
			}
		default:
			got.filename, got.fileType, got.content = p.FileName(), p.Header.Get("Content-Type"), string(b)
		}
	}
}

const uploadReply = `{"data":{"uploadDataset":[{"id":"dts_1","name":"prices","fileName":"houses.csv","format":"CSV","rowCount":5,
	"columns":[{"name":"city","dtype":"object","nullCount":0}],"createdAt":"2026-01-02T03:04:05Z"}]}}`

func TestUploadDatasetMultipart(t *testing.T) {
	tests := []struct {
		name      string
		upload    func(ctx context.Context, c *client.Client) error
		wantVars  map[string]any
		wantMap   map[string][]string
		wantFile  string
		wantType  string
		wantBytes string
	}{
		{
			name: "UploadDataset with options",
			upload: func(ctx context.Context, c *client.Client) error {
				ds, err := c.UploadDataset(ctx, "prices", strings.NewReader("price,city\n1,Paris\n"), "houses.csv",
					client.UploadOptions{Columns: []string{"city", "price"}, ContentType: "text/csv"})
				if err == nil && (len(ds) != 1 || ds[0].Id != "dts_1" || ds[0].RowCount != 5 || ds[0].CreatedAt.Year() != 2026) {
					t.Errorf("datasets = %+v", ds)
				}
				return err
			},
			wantVars: map[string]any{"input": map[string]any{"file": nil, "name": "prices",
				"columns": []any{"city", "price"}}},
			wantMap:   map[string][]string{"0": {"variables.input.file"}},
			wantFile:  "houses.csv",
			wantType:  "text/csv",
			wantBytes: "price,city\n1,Paris\n",
		},
		{
			name: "UploadDataset defaults, a file name to escape",
			upload: func(ctx context.Context, c *client.Client) error {
				_, err := c.UploadDataset(ctx, "", strings.NewReader("a\n1\n"), `données "2024".csv`, client.UploadOptions{})
				return err
			},
			wantVars:  map[string]any{"input": map[string]any{"file": nil}},
			wantMap:   map[string][]string{"0": {"variables.input.file"}},
			wantFile:  `données "2024".csv`,
			wantType:  "application/octet-stream",
			wantBytes: "a\n1\n",
		},
		{
			name: "a generated operation with an Upload argument",
			upload: func(ctx context.Context, c *client.Client) error {
				_, err := client.InspectUpload(ctx, c, client.Upload{Filename: "regions.xlsx", Body: strings.NewReader("PK")}, "")
				return err
			},
			wantVars:  map[string]any{"file": nil},
			wantMap:   map[string][]string{"0": {"variables.file"}},
			wantFile:  "regions.xlsx",
			wantType:  "application/octet-stream",
			wantBytes: "PK",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *multipartRequest
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
					t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
				}
				var err error
				if got, err = readMultipart(t, r, nil); err != nil {
					t.Errorf("read multipart: %v", err)
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, uploadReply)
			}))
			defer srv.Close()
			c := client.New(srv.URL, client.WithToken("tok"))
			if err := tt.upload(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("no request")
			}
			if got.auth != "Bearer tok" {
				t.Errorf("Authorization = %q", got.auth)
			}
			if want := []string{"operations", "map", "0"}; !reflect.DeepEqual(got.parts, want) {
				t.Errorf("parts = %q, want %q (the spec's order)", got.parts, want)
			}
			if !reflect.DeepEqual(got.operations["variables"], tt.wantVars) {
				t.Errorf("variables = %#v, want %#v", got.operations["variables"], tt.wantVars)
			}
			if q, _ := got.operations["query"].(string); !strings.Contains(q, "Upload") {
				t.Errorf("query = %q", q)
			}
			if !reflect.DeepEqual(got.fileMap, tt.wantMap) {
				t.Errorf("map = %v, want %v", got.fileMap, tt.wantMap)
			}
			if got.filename != tt.wantFile || got.fileType != tt.wantType || got.content != tt.wantBytes {
				t.Errorf("file = %q %q %q, want %q %q %q", got.filename, got.fileType, got.content, tt.wantFile, tt.wantType, tt.wantBytes)
			}
		})
	}
}

// TestUploadStreams has the file's content written only once the server has
// read the operations and the map: a client that read the whole file before
// sending would never get there.
func TestUploadStreams(t *testing.T) {
	headersRead := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, err := readMultipart(t, r, func() { close(headersRead) })
		if err != nil {
			t.Errorf("read multipart: %v", err)
		}
		if got.content != "price\n1\n2\n" {
			t.Errorf("content = %q", got.content)
		}
		io.WriteString(w, uploadReply)
	}))
	defer srv.Close()
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, "price\n")
		select {
		case <-headersRead:
		case <-time.After(10 * time.Second):
			pw.CloseWithError(errors.New("the server saw no parts before the file was read whole"))
			return
		}
		io.WriteString(pw, "1\n2\n")
		pw.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := client.New(srv.URL).UploadDataset(ctx, "", pr, "p.csv", client.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
}

// endless is a file that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	return len(p), nil
}

// failing fails after some content.
type failing struct{ n int }

func (f *failing) Read(p []byte) (int, error) {
	if f.n > 0 {
		f.n--
		return copy(p, "1,2\n"), nil
	}
	return 0, errors.New("disk on fire")
}

func TestUploadFailures(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		body       io.Reader
		wantCode   string
		wantStatus int
		wantErr    string
	}{
		{
			name: "the server refuses before reading the body",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				io.WriteString(w, `{"errors":[{"message":"authentication required","extensions":{"code":"UNAUTHENTICATED"}}]}`)
			},
			body:       endless{},
			wantCode:   client.CodeUnauthenticated,
			wantStatus: http.StatusUnauthorized,
		},
		{
			name: "the server stops reading at its limit",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.CopyN(io.Discard, r.Body, 1<<20)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				io.WriteString(w, `{"errors":[{"message":"upload over 1 MB","extensions":{"code":"LIMIT_EXCEEDED"}}]}`)
			},
			body:       endless{},
			wantCode:   client.CodeLimitExceeded,
			wantStatus: http.StatusRequestEntityTooLarge,
		},
		{
			name: "the file cannot be read",
			handler: func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				io.WriteString(w, uploadReply)
			},
			body:    &failing{n: 3},
			wantErr: "disk on fire",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := client.New(srv.URL).UploadDataset(ctx, "", tt.body, "big.csv", client.UploadOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), `upload "big.csv"`) {
				t.Errorf("error %q does not name the file", err)
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
			if tt.wantCode != "" {
				var e *client.Error
				if !errors.As(err, &e) || e.Code != tt.wantCode || e.StatusCode != tt.wantStatus {
					t.Errorf("error = %#v, want code %s, status %d", e, tt.wantCode, tt.wantStatus)
				}
			}
		})
	}
}
