package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// TestSampleAndDeleteDataset: the sample dataset loads like an upload and is
// a DataFrame in a chat; deleting a dataset takes it out of the API and of
// its chats; another user's dataset is not found.
func TestSampleAndDeleteDataset(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice, bob := srv.session(), srv.session()

	var sample struct {
		LoadSampleDataset struct {
			ID, Name, Description string
			RowCount              int
			Columns               []struct{ Name string }
		}
	}
	srv.must(alice, `mutation { loadSampleDataset { id name description rowCount columns { name } } }`, nil, &sample)
	s := sample.LoadSampleDataset
	if s.Name != "housing" || s.RowCount != 545 || len(s.Columns) != 13 || s.Columns[0].Name != "price" || s.Description == "" {
		t.Fatalf("sample dataset = %+v", s)
	}
	var again struct{ LoadSampleDataset struct{ Name string } }
	srv.must(alice, `mutation { loadSampleDataset { name } }`, nil, &again)
	if again.LoadSampleDataset.Name == "housing" {
		t.Fatal("a second sample got the same DataFrame name")
	}

	var chat struct{ CreateChat struct{ ID string } }
	srv.must(alice, createChatMutation, map[string]any{"ids": []string{s.ID}}, &chat)
	runID := execute(t, srv, alice, chat.CreateChat.ID, "print(housing.shape, int(housing['price'].max()) > int(housing['price'].min()))")
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), runID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	if res := find(evs, "EXECUTION_RESULT"); res == nil || res.Result.Stdout != "(545, 13) True\n" {
		t.Fatalf("execution: %+v", evs)
	}

	// JSON records upload like CSV.
	up := srv.upload(alice, uploadMutation, map[string]any{"f": nil}, "f", "sales.json",
		strings.NewReader(`[{"region": "North", "units": 3}, {"region": "South", "units": 5}, {"region": null, "units": 1}]`))
	var js struct {
		UploadDataset []struct {
			Name     string
			RowCount int
			Columns  []struct{ Name, Dtype string }
		}
	}
	if len(up.Errors) > 0 || json.Unmarshal(up.Data, &js) != nil || len(js.UploadDataset) != 1 {
		t.Fatalf("JSON upload: %s %+v", up.Data, up.Errors)
	}
	if d := js.UploadDataset[0]; d.Name != "sales" || d.RowCount != 3 || len(d.Columns) != 2 || d.Columns[1].Name != "units" || d.Columns[1].Dtype != "int64" {
		t.Fatalf("JSON dataset = %+v", d)
	}

	// The description can be replaced, by its owner only, within bounds.
	const upd = `mutation($id: ID!, $d: String!) { updateDataset(id: $id, input: {description: $d}) { id description } }`
	var updated struct {
		UpdateDataset struct{ ID, Description string }
	}
	srv.must(alice, upd, map[string]any{"id": s.ID, "d": "  Houses sold in 2024, one row per sale.  "}, &updated)
	if updated.UpdateDataset.Description != "Houses sold in 2024, one row per sale." {
		t.Fatalf("updateDataset = %+v", updated.UpdateDataset)
	}
	if r := srv.do(bob, upd, map[string]any{"id": s.ID, "d": "mine"}); r.code() != "NOT_FOUND" {
		t.Fatalf("bob updates alice's dataset: %+v", r.Errors)
	}
	if r := srv.do(alice, upd, map[string]any{"id": s.ID, "d": strings.Repeat("x", 10001)}); r.code() != "BAD_USER_INPUT" ||
		!strings.Contains(r.Errors[0].Message, "description") {
		t.Fatalf("a description too long: %+v", r.Errors)
	}

	const del = `mutation($id: ID!) { deleteDataset(id: $id) }`
	if r := srv.do(bob, del, map[string]any{"id": s.ID}); r.code() != "NOT_FOUND" {
		t.Fatalf("bob deletes alice's dataset: %+v", r.Errors)
	}
	var gone struct{ DeleteDataset string }
	srv.must(alice, del, map[string]any{"id": s.ID}, &gone)
	if gone.DeleteDataset != s.ID {
		t.Fatalf("deleteDataset returned %q", gone.DeleteDataset)
	}
	if r := srv.do(alice, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": s.ID}); len(r.Errors) == 0 && string(r.Data) != `{"node":null}` {
		t.Fatalf("the deleted dataset is still there: %s %+v", r.Data, r.Errors)
	}
	var left struct {
		Node struct {
			Datasets struct{ TotalCount int }
		}
	}
	srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Chat { datasets { totalCount } } } }`, map[string]any{"id": chat.CreateChat.ID}, &left)
	if left.Node.Datasets.TotalCount != 0 {
		t.Fatalf("the chat still has %d datasets", left.Node.Datasets.TotalCount)
	}
	if r := srv.do(alice, del, map[string]any{"id": s.ID}); r.code() != "NOT_FOUND" {
		t.Fatalf("deleting twice: %+v", r.Errors)
	}
}

const (
	inspectMutation  = `mutation($f: Upload!) { inspectUpload(file: $f) { sheets encoding delimiter headers rows } }`
	uploadSheets     = `mutation($f: Upload!, $name: String, $sheets: [String!], $columns: [String!]) { uploadDataset(input: {file: $f, name: $name, sheets: $sheets, columns: $columns}) { id name sheet rowCount columns { name dtype nullCount } } }`
	datasetQuery     = `query($id: ID!, $limit: Int) { node(id: $id) { ... on Dataset { name preview(limit: $limit) { columns rows } profile { name dtype nullCount distinctCount min max topValues { value count } } } } }`
	describeMutation = `mutation($ids: [ID!]!) { describeDatasets(ids: $ids) { id kind status chat { id } } }`
)

// latin1 encodes s (runes below 256) as ISO-8859-1.
func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		b = append(b, byte(r))
	}
	return b
}

type uploaded struct {
	ID, Name, Sheet string
	RowCount        int
	Columns         []struct {
		Name, Dtype string
		NullCount   int
	}
}

type columnProfile struct {
	Name, Dtype   string
	NullCount     int
	DistinctCount int
	Min, Max      *float64
	TopValues     []struct {
		Value string
		Count int
	}
}

type datasetNode struct {
	Node struct {
		Name    string
		Preview *struct {
			Columns []string
			Rows    [][]*string
		}
		Profile []columnProfile
	}
}

// TestDatasetOperations: inspecting uploads (a latin-1 CSV with semicolons,
// a workbook with two sheets) without storing them, uploading chosen sheets
// and columns, previews and profiles, LLM descriptions of one and two
// datasets as runs without a chat, executing an answer's code again, and
// the refusals, all over HTTP with multipart uploads.
func TestDatasetOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := llmtest.NewOpenAIServer(t, llmtest.Route(
		housekeepingRule,
		llmtest.Rule{Contains: "You describe datasets", Respond: func(req llmtest.ChatRequest) llmtest.Reply {
			if strings.Contains(req.LastMessage(), "There are 2 datasets") {
				return llmtest.Text("Sales per region, and the targets they can be joined with on region.")
			}
			return llmtest.Text("Sales per region: units and prices.")
		}},
		llmtest.Rule{Contains: "You are data_viz_agent", Reply: llmtest.Text("```python\nprint(len(df))\n```\nCounts the rows.")},
	).Handle)
	srv := startServer(t, map[string]string{
		"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(), "DEFAULT_MODEL": "gpt-5-mini",
		"UPLOAD_MAX_BYTES": "100000",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice, bob := srv.session(), srv.session()
	workbook, err := os.ReadFile("testdata/regions.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	cities := latin1(" Ville ;Pays;Température\nMünchen;Allemagne;3\n;;\nQuébec;Canada;-8\nSéville;Espagne;19\n")

	inspect := func(t *testing.T, name string, content []byte) *gqlResponse {
		t.Helper()
		return srv.upload(alice, inspectMutation, map[string]any{"f": nil}, "f", name, bytes.NewReader(content))
	}
	type inspection struct {
		InspectUpload struct {
			Sheets              []string
			Encoding, Delimiter *string
			Headers             []string
			Rows                [][]string
		}
	}

	t.Run("inspectUpload reads a latin-1 CSV with semicolons", func(t *testing.T) {
		r := inspect(t, "cities.csv", cities)
		var in inspection
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &in) != nil {
			t.Fatalf("inspect: %+v", r)
		}
		got := in.InspectUpload
		if got.Encoding == nil || *got.Encoding != "latin-1" || got.Delimiter == nil || *got.Delimiter != ";" || len(got.Sheets) != 0 {
			t.Fatalf("inspection %s", r.Data)
		}
		if fmt.Sprint(got.Headers) != "[Ville Pays Température]" || len(got.Rows) != 3 || fmt.Sprint(got.Rows[1]) != "[Québec Canada -8]" {
			t.Fatalf("headers %q rows %q", got.Headers, got.Rows)
		}
		var list struct{ Datasets struct{ TotalCount int } }
		srv.must(alice, `{ datasets { totalCount } }`, nil, &list)
		if list.Datasets.TotalCount != 0 {
			t.Fatalf("inspecting stored %d datasets", list.Datasets.TotalCount)
		}
	})

	t.Run("inspectUpload lists a workbook's sheets", func(t *testing.T) {
		r := inspect(t, "regions.xlsx", workbook)
		var in inspection
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &in) != nil {
			t.Fatalf("inspect: %+v", r)
		}
		got := in.InspectUpload
		if fmt.Sprint(got.Sheets) != "[Sales Targets]" || got.Encoding != nil || got.Delimiter != nil ||
			fmt.Sprint(got.Headers) != "[Region Units Price]" || len(got.Rows) != 5 || fmt.Sprint(got.Rows[0]) != "[North 10 2.5]" {
			t.Fatalf("inspection %s", r.Data)
		}
		const sheetQuery = `mutation($f: Upload!, $sheet: String) { inspectUpload(file: $f, sheet: $sheet) { headers rows } }`
		r = srv.upload(alice, sheetQuery, map[string]any{"f": nil, "sheet": "Targets"}, "f", "regions.xlsx", bytes.NewReader(workbook))
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &in) != nil || fmt.Sprint(in.InspectUpload.Headers) != "[region target]" || len(in.InspectUpload.Rows) != 3 {
			t.Fatalf("inspect sheet Targets: %s %+v", r.Data, r.Errors)
		}
		r = srv.upload(alice, sheetQuery, map[string]any{"f": nil, "sheet": "Budget"}, "f", "regions.xlsx", bytes.NewReader(workbook))
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "sheet" || !strings.Contains(r.Errors[0].Message, `"Budget"`) {
			t.Fatalf("inspect an unknown sheet: %+v", r.Errors)
		}
	})

	upload := func(t *testing.T, token, name string, content []byte, vars map[string]any) []uploaded {
		t.Helper()
		vars["f"] = nil
		r := srv.upload(token, uploadSheets, vars, "f", name, bytes.NewReader(content))
		var out struct{ UploadDataset []uploaded }
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &out) != nil {
			t.Fatalf("upload %s: %+v", name, r)
		}
		return out.UploadDataset
	}
	var sales, targets, prices, villes uploaded

	t.Run("uploadDataset stores chosen sheets and columns", func(t *testing.T) {
		ds := upload(t, alice, "regions.xlsx", workbook, map[string]any{"sheets": []string{"Sales", "Targets"}})
		if len(ds) != 2 || ds[0].Name != "sales" || ds[0].Sheet != "Sales" || ds[0].RowCount != 5 || len(ds[0].Columns) != 3 ||
			ds[0].Columns[0].Name != "Region" || ds[1].Name != "targets" || ds[1].RowCount != 3 {
			t.Fatalf("sheets: %+v", ds)
		}
		sales, targets = ds[0], ds[1]
		ds = upload(t, alice, "regions.xlsx", workbook, map[string]any{"name": "prices", "sheets": []string{"Sales"}, "columns": []string{"Price", "Region"}})
		if len(ds) != 1 || ds[0].Name != "prices" || len(ds[0].Columns) != 2 || ds[0].Columns[0].Name != "Price" || ds[0].Columns[0].NullCount != 1 {
			t.Fatalf("columns: %+v", ds)
		}
		prices = ds[0]
		ds = upload(t, alice, "Villes d'Europe.csv", cities, map[string]any{})
		if len(ds) != 1 || ds[0].Name != "villes_d_europe" || ds[0].RowCount != 3 || ds[0].Columns[2].Name != "Température" {
			t.Fatalf("csv: %+v", ds)
		}
		villes = ds[0]
	})

	t.Run("preview and profile", func(t *testing.T) {
		var d datasetNode
		srv.must(alice, datasetQuery, map[string]any{"id": prices.ID, "limit": 2}, &d)
		p := d.Node.Preview
		if p == nil || fmt.Sprint(p.Columns) != "[Price Region]" || len(p.Rows) != 2 || *p.Rows[0][0] != "2.5" || *p.Rows[1][1] != "South" {
			t.Fatalf("preview %+v", d.Node)
		}
		srv.must(alice, datasetQuery, map[string]any{"id": sales.ID}, &d)
		if p := d.Node.Preview; p == nil || len(p.Rows) != 5 || p.Rows[4][2] != nil {
			t.Fatalf("default preview %+v", d.Node.Preview)
		}
		prof := map[string]columnProfile{}
		for _, c := range d.Node.Profile {
			prof[c.Name] = c
		}
		units, region := prof["Units"], prof["Region"]
		if units.Dtype != "int64" || units.DistinctCount != 5 || units.Min == nil || *units.Min != 3 || *units.Max != 12 || len(units.TopValues) != 0 {
			t.Fatalf("Units profile %+v", units)
		}
		if region.DistinctCount != 4 || region.Min != nil || len(region.TopValues) != 4 || region.TopValues[0].Value != "North" || region.TopValues[0].Count != 2 {
			t.Fatalf("Region profile %+v", region)
		}
		srv.must(alice, datasetQuery, map[string]any{"id": villes.ID, "limit": 1}, &d)
		if p := d.Node.Preview; p == nil || *p.Rows[0][0]+" "+*p.Rows[0][2] != "München 3" {
			t.Fatalf("latin-1 preview %s %s %s", *p.Rows[0][0], *p.Rows[0][1], *p.Rows[0][2])
		}
		// In a chat, the DataFrames are what the preview shows.
		var c struct{ CreateChat struct{ ID string } }
		srv.must(alice, createChatMutation, map[string]any{"ids": []string{prices.ID, targets.ID}}, &c)
		runID := execute(t, srv, alice, c.CreateChat.ID, "print(prices.columns.tolist(), prices.shape, targets.shape)")
		evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), runID, 0, nil)
		if err != nil || gerr != nil {
			t.Fatalf("subscribe: %v %+v", err, gerr)
		}
		if res := find(evs, "EXECUTION_RESULT"); res == nil || res.Result.Stdout != "['Price', 'Region'] (5, 2) (3, 2)\n" {
			t.Fatalf("execution %+v", evs)
		}
	})

	describe := func(t *testing.T, ids ...string) []event {
		t.Helper()
		var r struct {
			DescribeDatasets struct {
				ID, Kind string
				Chat     *struct{ ID string }
			}
		}
		srv.must(alice, describeMutation, map[string]any{"ids": ids}, &r)
		if r.DescribeDatasets.Kind != "DESCRIBE_DATASETS" || r.DescribeDatasets.Chat != nil {
			t.Fatalf("run %+v", r.DescribeDatasets)
		}
		evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.DescribeDatasets.ID, 0, nil)
		if err != nil || gerr != nil {
			t.Fatalf("subscribe: %v %+v", err, gerr)
		}
		checkSeqs(t, evs, 1)
		if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
			t.Fatalf("last event %+v", last)
		}
		return evs
	}

	t.Run("describeDatasets describes one dataset and two", func(t *testing.T) {
		evs := describe(t, sales.ID)
		done := find(evs, "AGENT_FINISHED")
		if done == nil || done.Agent != "describe_datasets" || done.Text != "Sales per region: units and prices." || find(evs, "TOKEN") == nil {
			t.Fatalf("events %+v", evs)
		}
		prompt := llmSrv.LastRequest().LastUserMessage()
		if !strings.Contains(prompt, "## sales: 5 rows, 3 columns") || !strings.Contains(prompt, "Units (int64): 0 missing, 5 distinct, from 3 to 12") {
			t.Fatalf("prompt:\n%s", prompt)
		}
		evs = describe(t, sales.ID, targets.ID)
		if done := find(evs, "AGENT_FINISHED"); done == nil || !strings.Contains(done.Text, "joined with on region") {
			t.Fatalf("events %+v", evs)
		}
		// Each description is a usage row of the viewer's, without a chat.
		var usage struct {
			Viewer struct{ Usage struct{ Calls, Runs int } }
		}
		srv.must(alice, `{ viewer { usage(period: P7D) { calls runs } } }`, nil, &usage)
		if usage.Viewer.Usage.Calls != 2 {
			t.Fatalf("usage %+v, want 2 calls", usage.Viewer.Usage)
		}
	})

	t.Run("executeCode with a message updates its code execution", func(t *testing.T) {
		chatID := housesChat(t, srv, alice)
		var sent struct{ SendMessage struct{ ID string } }
		srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": "@data_viz_agent how many houses?"}, &sent)
		evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), sent.SendMessage.ID, 0, nil)
		if err != nil || gerr != nil || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
			t.Fatalf("chat turn: %v %+v %+v", err, gerr, evs)
		}
		msg := find(evs, "MESSAGE")
		const run = `mutation($chat: ID!, $msg: ID, $code: String!) { executeCode(input: {chatID: $chat, messageID: $msg, code: $code}) { id } }`
		var r struct{ ExecuteCode struct{ ID string } }
		srv.must(alice, run, map[string]any{"chat": chatID, "msg": msg.MessageID, "code": "print('rows:', len(df))"}, &r)
		evs, _, err = srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.ExecuteCode.ID, 0, nil)
		if err != nil || evs[len(evs)-1].Type != "RUN_SUCCEEDED" {
			t.Fatalf("execution: %v %+v", err, evs)
		}
		var m struct {
			Node struct {
				CodeExecution struct {
					InitialCode, LatestCode, Output string
					IsSuccessful                    bool
				}
			}
		}
		srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Message { codeExecution { initialCode latestCode output isSuccessful } } } }`,
			map[string]any{"id": msg.MessageID}, &m)
		ce := m.Node.CodeExecution
		if ce.LatestCode != "print('rows:', len(df))" || ce.Output != "rows: 5\n" || !ce.IsSuccessful || !strings.Contains(ce.InitialCode, "print(len(df))") {
			t.Fatalf("code execution %+v", ce)
		}
		// A failing run records its failure.
		srv.must(alice, run, map[string]any{"chat": chatID, "msg": msg.MessageID, "code": "print(df['nope'])"}, &r)
		srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.ExecuteCode.ID, 0, nil)
		srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Message { codeExecution { initialCode latestCode output isSuccessful } } } }`,
			map[string]any{"id": msg.MessageID}, &m)
		if m.Node.CodeExecution.IsSuccessful || m.Node.CodeExecution.LatestCode != "print(df['nope'])" {
			t.Fatalf("after a failure %+v", m.Node.CodeExecution)
		}
		// Only the viewer's assistant messages, in that chat.
		bobChat := housesChat(t, srv, bob)
		if rr := srv.do(bob, run, map[string]any{"chat": bobChat, "msg": msg.MessageID, "code": "print(1)"}); rr.code() != "NOT_FOUND" {
			t.Fatalf("bob runs alice's message: %+v", rr.Errors)
		}
		other := housesChat(t, srv, alice)
		if rr := srv.do(alice, run, map[string]any{"chat": other, "msg": msg.MessageID, "code": "print(1)"}); rr.code() != "BAD_USER_INPUT" {
			t.Fatalf("a message of another chat: %+v", rr.Errors)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		garbage := make([]byte, 2048)
		for i := range garbage {
			garbage[i] = byte(i * 31)
		}
		for _, tc := range []struct {
			name, file string
			content    []byte
			code, want string
		}{
			{"empty file", "empty.csv", nil, "BAD_USER_INPUT", "empty"},
			{"unknown type", "notes.pdf", []byte("%PDF-1.4"), "BAD_USER_INPUT", "unsupported file type"},
			{"binary garbage", "data.csv", garbage, "BAD_USER_INPUT", "binary"},
			{"a zip that is no workbook", "book.xlsx", []byte("PK\x03\x04 not really"), "BAD_USER_INPUT", "could not be read as XLSX"},
			{"too large", "big.csv", []byte("a,b\n" + strings.Repeat("1,2\n", 30000)), "LIMIT_EXCEEDED", "UPLOAD_MAX_BYTES"},
		} {
			r := inspect(t, tc.file, tc.content)
			if r.code() != tc.code || !strings.Contains(r.Errors[0].Message, tc.want) {
				t.Errorf("inspect %s: %+v, want %s naming %q", tc.name, r.Errors, tc.code, tc.want)
			}
		}
		for _, tc := range []struct {
			name  string
			vars  map[string]any
			field string
			want  string
		}{
			{"unknown sheet", map[string]any{"sheets": []string{"Sales", "Budget"}}, "sheets", `"Budget"`},
			{"unknown column", map[string]any{"columns": []string{"Region", "Revenue"}}, "columns", `"Revenue"`},
		} {
			tc.vars["f"] = nil
			r := srv.upload(alice, uploadSheets, tc.vars, "f", "regions.xlsx", bytes.NewReader(workbook))
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tc.field || !strings.Contains(r.Errors[0].Message, tc.want) {
				t.Errorf("%s: %+v", tc.name, r.Errors)
			}
		}
		r := srv.upload(alice, uploadSheets, map[string]any{"f": nil, "sheets": []string{"Sheet1"}}, "f", "c.csv", bytes.NewReader(cities))
		if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "sheets" {
			t.Errorf("sheets of a CSV: %+v", r.Errors)
		}
		for _, limit := range []int{0, 101} {
			r := srv.do(alice, datasetQuery, map[string]any{"id": sales.ID, "limit": limit})
			if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "limit" {
				t.Errorf("preview limit %d: %+v", limit, r.Errors)
			}
		}
		if r := srv.do(bob, describeMutation, map[string]any{"ids": []string{sales.ID}}); r.code() != "NOT_FOUND" {
			t.Errorf("bob describes alice's dataset: %+v", r.Errors)
		}
		if r := srv.do(bob, datasetQuery, map[string]any{"id": sales.ID}); r.code() != "NOT_FOUND" {
			t.Errorf("bob previews alice's dataset: %+v", r.Errors)
		}
		many := make([]string, 11)
		for i := range many {
			many[i] = fmt.Sprintf("dts_%d", i)
		}
		for _, ids := range [][]string{{}, many} {
			if r := srv.do(alice, describeMutation, map[string]any{"ids": ids}); r.code() != "BAD_USER_INPUT" {
				t.Errorf("describe %d ids: %+v", len(ids), r.Errors)
			}
		}
	})
}

// TestUploadXLS uploads a legacy Excel workbook (testdata/regions.xls, made
// by executor/testdata/make_xls.py) through GraphQL: its sheets are listed
// and chosen as an .xlsx workbook's, and its date cells, like a CSV's ISO
// dates, are profiled as datetime64[ns].
func TestUploadXLS(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	srv := startServer(t, map[string]string{"UPLOAD_MAX_BYTES": "100000"})
	alice := srv.session()
	book, err := os.ReadFile("testdata/regions.xls")
	if err != nil {
		t.Fatal(err)
	}
	r := srv.upload(alice, inspectMutation, map[string]any{"f": nil}, "f", "regions.xls", bytes.NewReader(book))
	var in struct {
		InspectUpload struct{ Sheets, Headers []string }
	}
	if len(r.Errors) > 0 || json.Unmarshal(r.Data, &in) != nil || fmt.Sprint(in.InspectUpload.Sheets) != "[Sales Targets]" ||
		fmt.Sprint(in.InspectUpload.Headers) != "[Region Units Price Day Open]" {
		t.Fatalf("inspect: %s %+v", r.Data, r.Errors)
	}
	r = srv.upload(alice, uploadSheets, map[string]any{"f": nil, "sheets": []string{"Targets", "Sales"}}, "f", "regions.xls", bytes.NewReader(book))
	var out struct{ UploadDataset []uploaded }
	if len(r.Errors) > 0 || json.Unmarshal(r.Data, &out) != nil || len(out.UploadDataset) != 2 || out.UploadDataset[0].Sheet != "Targets" ||
		out.UploadDataset[1].RowCount != 3 || fmt.Sprint(out.UploadDataset[1].Columns[3]) != "{Day datetime64[ns] 0}" {
		t.Fatalf("upload: %s %+v", r.Data, r.Errors)
	}
	csv := []byte("d,n\n2024-01-03,1\n2024-02-29,2\n")
	r = srv.upload(alice, uploadSheets, map[string]any{"f": nil}, "f", "dates.csv", bytes.NewReader(csv))
	if len(r.Errors) > 0 || json.Unmarshal(r.Data, &out) != nil || fmt.Sprint(out.UploadDataset[0].Columns[0]) != "{d datetime64[ns] 0}" {
		t.Fatalf("csv of dates: %s %+v", r.Data, r.Errors)
	}
}
