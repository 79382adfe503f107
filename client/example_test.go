package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/autoanalyst/autoanalyst/client"
)

// The examples run against the server that TestMain starts (serverURL);
// point client.New at your own, e.g. "http://localhost:8000/graphql".

// A session, a dataset, a chat, code run in the chat's kernel, and the run's
// events to the end.
func Example() {
	ctx := context.Background()
	c := client.New(serverURL + "/graphql")

	session, err := client.CreateGuestSession(ctx, c)
	if err != nil {
		log.Fatal(err)
	}
	c = c.WithToken(session.CreateGuestSession.Token)

	f, err := os.Open(houses)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	datasets, err := c.UploadDataset(ctx, "", f, "houses.csv", client.UploadOptions{})
	if err != nil {
		log.Fatal(err)
	}

	chat, err := client.CreateChat(ctx, c, client.CreateChatInput{DatasetIDs: []string{datasets[0].Id}})
	if err != nil {
		log.Fatal(err)
	}
	run, err := client.ExecuteCode(ctx, c, client.ExecuteCodeInput{
		ChatID: chat.CreateChat.Id,
		Code:   "print(df.groupby('city')['price'].mean().round(1).to_dict())",
	})
	if err != nil {
		log.Fatal(err)
	}
	for ev, err := range c.RunEvents(ctx, run.ExecuteCode.Id, 0) {
		if err != nil {
			log.Fatal(err)
		}
		if ev.Type == client.RunEventTypeExecutionResult {
			fmt.Print(ev.Result.Stdout)
		}
		if ev.Type.Terminal() {
			fmt.Println(ev.Type)
		}
	}
	// Output:
	// {'Lyon': 225.0, 'Nice': 300.0, 'Paris': 125.0}
	// RUN_SUCCEEDED
}

// A guest session: a user without a password, and a token for it.
func ExampleCreateGuestSession() {
	ctx := context.Background()
	c := client.New(serverURL + "/graphql")
	session, err := client.CreateGuestSession(ctx, c)
	if err != nil {
		log.Fatal(err)
	}
	// Every request of this client sends the token.
	c = c.WithToken(session.CreateGuestSession.Token)

	viewer, err := client.Viewer(ctx, c)
	if err != nil {
		log.Fatal(err)
	}
	v := viewer.Viewer
	fmt.Println(v.Id == session.CreateGuestSession.User.Id, v.IsGuest, v.Role, v.Plan)
	// Output: true true USER FREE
}

// Upload a CSV (a multipart request that streams the file), then list the
// viewer's datasets.
func ExampleClient_UploadDataset() {
	ctx := context.Background()
	c := client.New(serverURL + "/graphql")
	session, err := client.CreateGuestSession(ctx, c)
	if err != nil {
		log.Fatal(err)
	}
	c = c.WithToken(session.CreateGuestSession.Token)

	f, err := os.Open(houses)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if _, err := c.UploadDataset(ctx, "prices", f, "houses.csv", client.UploadOptions{
		Description: "house prices by city",
		Columns:     []string{"city", "price"},
	}); err != nil {
		log.Fatal(err)
	}

	list, err := client.Datasets(ctx, c, 10, "")
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range list.Datasets.Edges {
		d := e.Node
		var cols []string
		for _, col := range d.Columns {
			cols = append(cols, col.Name+" "+col.Dtype)
		}
		fmt.Printf("%s (%s, %s): %d rows; %s\n", d.Name, d.FileName, d.Format, d.RowCount, strings.Join(cols, ", "))
	}
	// Output: prices (houses.csv, CSV): 5 rows; city object, price int64
}

// Run code in a chat's kernel and follow the run's events: RunEvents
// replays them from seq 1 (after 0), follows live, resumes after a dropped
// connection, and ends after the terminal event.
func ExampleClient_RunEvents() {
	ctx := context.Background()
	c := client.New(serverURL + "/graphql")
	session, err := client.CreateGuestSession(ctx, c)
	if err != nil {
		log.Fatal(err)
	}
	c = c.WithToken(session.CreateGuestSession.Token)

	chat, err := client.CreateChat(ctx, c, client.CreateChatInput{Title: "scratch"})
	if err != nil {
		log.Fatal(err)
	}
	run, err := client.ExecuteCode(ctx, c, client.ExecuteCodeInput{
		ChatID: chat.CreateChat.Id,
		Code:   "total = sum(range(10))\nprint('total:', total)",
	})
	if err != nil {
		log.Fatal(err)
	}
	for ev, err := range c.RunEvents(ctx, run.ExecuteCode.Id, 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ev.Seq, ev.Type)
		if ev.Result != nil {
			fmt.Printf("  ok=%v stdout=%q\n", ev.Result.Ok, ev.Result.Stdout)
		}
	}
	// Output:
	// 1 RUN_STARTED
	// 2 EXECUTION_STARTED
	// 3 EXECUTION_RESULT
	//   ok=true stdout="total: 45\n"
	// 4 RUN_SUCCEEDED
}

// The server's errors carry a code (extensions.code) and, for bad input, the
// field at fault.
func ExampleError() {
	ctx := context.Background()
	c := client.New(serverURL + "/graphql")

	// No token.
	_, err := client.CreateChat(ctx, c, client.CreateChatInput{})
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Code)
	}

	session, err := client.CreateGuestSession(ctx, c)
	if err != nil {
		log.Fatal(err)
	}
	c = c.WithToken(session.CreateGuestSession.Token)
	// Another user's chat, or none: NOT_FOUND on the chatID field.
	_, err = client.ExecuteCode(ctx, c, client.ExecuteCodeInput{ChatID: "cht_01jd000000000000000000000", Code: "1"})
	if errors.As(err, &e) {
		fmt.Println(e.Code, e.Field)
	}
	fmt.Println(client.Code(err) == client.CodeNotFound)
	// Output:
	// UNAUTHENTICATED
	// NOT_FOUND chatID
	// true
}

// Page through a connection with first and after (pageInfo.endCursor).
func ExampleChats() {
	ctx := context.Background()
	c := client.New(serverURL + "/graphql")
	session, err := client.CreateGuestSession(ctx, c)
	if err != nil {
		log.Fatal(err)
	}
	c = c.WithToken(session.CreateGuestSession.Token)
	for _, title := range []string{"first", "second", "third"} {
		if _, err := client.CreateChat(ctx, c, client.CreateChatInput{Title: title}); err != nil {
			log.Fatal(err)
		}
	}

	after := ""
	for page := 1; ; page++ {
		chats, err := client.Chats(ctx, c, 2, after)
		if err != nil {
			log.Fatal(err)
		}
		var titles []string
		for _, e := range chats.Chats.Edges {
			titles = append(titles, e.Node.Title)
		}
		fmt.Printf("page %d of %d chats: %s\n", page, chats.Chats.TotalCount, strings.Join(titles, ", "))
		if !chats.Chats.PageInfo.HasNextPage {
			break
		}
		after = chats.Chats.PageInfo.EndCursor
	}
	// Output:
	// page 1 of 3 chats: third, second
	// page 2 of 3 chats: first
}
