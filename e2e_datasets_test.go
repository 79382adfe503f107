package main

import (
	"context"
	"testing"
	"time"
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
