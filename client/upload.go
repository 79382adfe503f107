package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/Khan/genqlient/graphql"
)

// Upload is a file sent with an operation (the Upload scalar): set it where
// the operation takes an Upload, e.g. UploadDatasetInput.File or
// InspectUpload's file. [Client.MakeRequest] then sends the operation as a
// GraphQL multipart request (github.com/jaydenseric/graphql-multipart-request-spec),
// reading Body once, as it streams, without holding the whole file in
// memory.
//
// An Upload is read by one request: do not share one among goroutines, or
// send it twice.
type Upload struct {
	// Filename is the file's name: the server reads the format from its
	// extension (.csv .tsv .txt .xlsx .json) and names the dataset after it.
	Filename string
	// Body is the file's content, read until EOF.
	Body io.Reader
	// ContentType is the part's Content-Type (default
	// application/octet-stream).
	ContentType string
}

// MarshalJSON encodes an Upload as null, as the multipart request spec has
// the operations' variables hold it; the file goes in a part of its own.
// Safe for concurrent use (it reads nothing).
func (Upload) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// UploadOptions are the optional inputs of [Client.UploadDataset]. A plain
// value: safe to share.
type UploadOptions struct {
	// Description is what the agents are told the dataset is.
	Description string
	// Sheets are the Excel sheets to store, each as its own dataset (default:
	// the first sheet).
	Sheets []string
	// Columns are the columns to keep, in this order (default: all).
	Columns []string
	// ContentType is the file part's Content-Type (default
	// application/octet-stream).
	ContentType string
}

// UploadDataset uploads a CSV, Excel (.xlsx) or JSON file, read from r, as
// the dataset name ("" names it after filename) and returns what was stored:
// one dataset, or one per sheet of opts.Sheets. The file streams to the
// server as it is read. Safe for concurrent use (each call with its own r).
func (c *Client) UploadDataset(ctx context.Context, name string, r io.Reader, filename string, opts UploadOptions) ([]Dataset, error) {
	resp, err := UploadDataset(ctx, c, UploadDatasetInput{
		File:        Upload{Filename: filename, Body: r, ContentType: opts.ContentType},
		Name:        name,
		Description: opts.Description,
		Sheets:      opts.Sheets,
		Columns:     opts.Columns,
	})
	if err != nil {
		return nil, fmt.Errorf("upload %q: %w", filename, err)
	}
	out := make([]Dataset, len(resp.UploadDataset))
	for i, d := range resp.UploadDataset {
		out[i] = d.Dataset
	}
	return out, nil
}

// fileRef is an Upload found in the variables, with its path there
// ("variables.input.file").
type fileRef struct {
	path   string
	upload Upload
}

var uploadType = reflect.TypeFor[Upload]()

// findUploads returns the Uploads in variables (structs by their JSON names,
// maps, slices), in a stable order.
func findUploads(variables any) ([]fileRef, error) {
	var refs []fileRef
	err := walkUploads(reflect.ValueOf(variables), "variables", 0, &refs)
	return refs, err
}

func walkUploads(v reflect.Value, path string, depth int, refs *[]fileRef) error {
	if depth > 32 {
		return fmt.Errorf("variables nest deeper than 32 levels at %s", path)
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return nil
	}
	if v.Type() == uploadType {
		u := v.Interface().(Upload)
		if u.Body == nil {
			return fmt.Errorf("upload at %s has no Body", path)
		}
		*refs = append(*refs, fileRef{path: path, upload: u})
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, omitempty := jsonName(f)
			if name == "-" {
				continue
			}
			fv := v.Field(i)
			if omitempty && fv.IsZero() {
				continue
			}
			p := path
			if !f.Anonymous || f.Tag.Get("json") != "" {
				p = path + "." + name
			}
			if err := walkUploads(fv, p, depth+1, refs); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := walkUploads(v.Index(i), path+"."+strconv.Itoa(i), depth+1, refs); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil
		}
		iter := v.MapRange()
		var found []fileRef
		for iter.Next() {
			if err := walkUploads(iter.Value(), path+"."+iter.Key().String(), depth+1, &found); err != nil {
				return err
			}
		}
		// Map order is random: sort by path for a stable part order.
		slices.SortFunc(found, func(a, b fileRef) int { return strings.Compare(a.path, b.path) })
		*refs = append(*refs, found...)
	}
	return nil
}

func jsonName(f reflect.StructField) (name string, omitempty bool) {
	name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		name = f.Name
	}
	for _, o := range strings.Split(opts, ",") {
		omitempty = omitempty || o == "omitempty" || o == "omitzero"
	}
	return name, omitempty
}

// errRequestDone stops a multipart writer whose request has ended.
var errRequestDone = errors.New("request ended")

// multipartRequest makes a POST whose body is the GraphQL multipart request
// of req: the operations, the map, then each file, written by a goroutine
// into a pipe as the transport reads it. finish ends and waits for that
// goroutine; call it once the response has been read.
func (c *Client) multipartRequest(ctx context.Context, req *graphql.Request, files []fileRef) (*http.Request, func(), error) {
	ops, err := json.Marshal(req)
	if err != nil {
		return nil, nil, fmt.Errorf("encode operations: %w", err)
	}
	fileMap := make(map[string][]string, len(files))
	for i, f := range files {
		fileMap[strconv.Itoa(i)] = []string{f.path}
	}
	mapJSON, err := json.Marshal(fileMap)
	if err != nil {
		return nil, nil, fmt.Errorf("encode map: %w", err)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	httpReq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, pr)
	if err != nil {
		return nil, nil, err
	}
	httpReq.Header.Set("Content-Type", mw.FormDataContentType())
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeMultipart(mw, ops, mapJSON, files))
	}()
	finish := func() {
		pr.CloseWithError(errRequestDone)
		<-done
	}
	return httpReq, finish, nil
}

func writeMultipart(mw *multipart.Writer, ops, mapJSON []byte, files []fileRef) error {
	if err := mw.WriteField("operations", string(ops)); err != nil {
		return err
	}
	if err := mw.WriteField("map", string(mapJSON)); err != nil {
		return err
	}
	for i, f := range files {
		key := strconv.Itoa(i)
		h := textproto.MIMEHeader{}
		cd := mime.FormatMediaType("form-data", map[string]string{"name": key, "filename": f.upload.Filename})
		if cd == "" {
			cd = `form-data; name="` + key + `"; filename="upload"`
		}
		h.Set("Content-Disposition", cd)
		ct := f.upload.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		part, err := mw.CreatePart(h)
		if err != nil {
			return err
		}
		if _, err := io.Copy(part, f.upload.Body); err != nil {
			return fmt.Errorf("read %s (%q): %w", f.path, f.upload.Filename, err)
		}
	}
	return mw.Close()
}
