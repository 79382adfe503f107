package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/autoanalyst/autoanalyst/llm/llmtest"
)

// The openings of the interpreter's and the follow-ups' prompts.
const (
	interpreterPrompt = "You interpret what a data analysis program printed"
	followUpsPrompt   = "You suggest follow-up questions"
)

// meansCode prints the mean price per city of houses.csv (Lyon 225, Nice
// 300, Paris 125) and displays it as a table.
const meansCode = "means = df.groupby('city')['price'].mean().sort_values()\n" +
	"print('cities:', len(means))\nprint('highest:', means.idxmax(), means.max())\ndisplay(means.reset_index())"

// interpretLLM scripts TestInterpreter's turns: the statistics agent computes
// the means, and the interpreter answers from its outputs (the numbers it
// cites read from its prompt) or, asked about Rome, cites a number that the
// outputs do not hold.
func interpretLLM(t *testing.T) *llmtest.Server {
	return llmtest.NewOpenAIServer(t, llmtest.Route(
		llmtest.Rule{Contains: interpreterPrompt, Respond: func(req llmtest.ChatRequest) llmtest.Reply {
			m := req.LastMessage()
			if strings.Contains(m, "Rome") {
				return llmtest.Text("Rome averages 412, the outputs do not show Rome.")
			}
			high := regexp.MustCompile(`highest: (\w+) ([\d.]+)`).FindStringSubmatch(m)
			cities := regexp.MustCompile(`cities: (\d+)`).FindStringSubmatch(m)
			if high == nil || cities == nil {
				return llmtest.Text("The outputs do not answer the question.")
			}
			return llmtest.Text(fmt.Sprintf("Of the %s cities, **%s** is the most expensive, at a mean price of %s.", cities[1], high[1], high[2]))
		}},
		housekeepingRule,
		llmtest.Rule{Contains: "You are basic_qa_agent", Reply: llmtest.Text("The middle value of sorted numbers.")},
		llmtest.Rule{Contains: "You are statistical_analytics_agent", Reply: llmtest.Text(
			"```python\n" + meansCode + "\n```\nThe mean price per city is probably around 250.")},
	).Handle)
}

// numberRE finds the numbers of a text.
var numberRE = regexp.MustCompile(`\d+(?:\.\d+)?`)

// TestInterpreter: a chat turn's answer is written after its code ran, from
// what it produced: streamed as the interpreter's tokens, with only numbers
// that the execution's output holds (the agent's guess is left out), and a
// note under a number that it does not hold. The step has its usage rows.
func TestInterpreter(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := interpretLLM(t)
	srv := startServer(t, map[string]string{
		"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(), "DEFAULT_MODEL": "gpt-5-mini",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice := srv.session()
	chatID := housesChat(t, srv, alice)
	ask := func(t *testing.T, content string) ([]event, string) {
		t.Helper()
		var r struct {
			SendMessage struct{ ID string } `json:"sendMessage"`
		}
		srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": content}, &r)
		evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.SendMessage.ID, 0, nil)
		if err != nil || gerr != nil {
			t.Fatalf("subscribe: %v %+v", err, gerr)
		}
		if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
			t.Fatalf("last event %+v", last)
		}
		msg := find(evs, "MESSAGE")
		if msg == nil {
			t.Fatal("no MESSAGE event")
		}
		var q struct{ Node struct{ Content string } }
		srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Message { content } } }`, map[string]any{"id": msg.MessageID}, &q)
		return evs, q.Node.Content
	}

	t.Run("the answer cites only numbers of the outputs", func(t *testing.T) {
		evs, content := ask(t, "@statistical_analytics_agent which city is the most expensive?")
		res := find(evs, "EXECUTION_RESULT")
		if res == nil || !res.Result.OK || !strings.Contains(res.Result.Stdout, "highest: Nice 300") {
			t.Fatalf("EXECUTION_RESULT %+v", res)
		}
		var streamed strings.Builder
		for _, e := range evs {
			if e.Type == "TOKEN" && e.Agent == "interpreter" {
				streamed.WriteString(e.Text)
			}
		}
		want := "Of the 3 cities, **Nice** is the most expensive, at a mean price of 300.0."
		if streamed.String() != want {
			t.Fatalf("interpreter tokens %q, want %q", streamed.String(), want)
		}
		if !strings.HasPrefix(content, want+"\n\n```python\n") || strings.Contains(content, "around 250") ||
			strings.Contains(content, "Not found in the outputs") || !strings.Contains(content, "highest: Nice 300") {
			t.Fatalf("stored answer:\n%s", content)
		}
		text := content[:strings.Index(content, "```python")]
		var outputs strings.Builder
		outputs.WriteString(res.Result.Stdout)
		for _, tb := range res.Result.Tables {
			fmt.Fprint(&outputs, tb.Rows)
		}
		for _, n := range numberRE.FindAllString(text, -1) {
			if !strings.Contains(outputs.String(), n) {
				t.Fatalf("the answer cites %s, which the outputs do not hold:\n%s", n, outputs.String())
			}
		}
	})

	t.Run("a number the outputs do not hold gets a note", func(t *testing.T) {
		_, content := ask(t, "@statistical_analytics_agent and Rome?")
		if !strings.HasPrefix(content, "Rome averages 412") || !strings.Contains(content, "_Not found in the outputs: 412._") {
			t.Fatalf("stored answer:\n%s", content)
		}
	})

	t.Run("a question without code is answered as before", func(t *testing.T) {
		evs, content := ask(t, "@basic_qa_agent what is a median?")
		for _, e := range evs {
			if e.Agent == "interpreter" {
				t.Fatalf("the interpreter ran without code: %+v", e)
			}
		}
		if strings.Contains(content, "```python") {
			t.Fatalf("stored answer:\n%s", content)
		}
	})

	t.Run("usage rows of the interpreter and follow-ups steps", func(t *testing.T) {
		for step, want := range map[string]int{"interpreter": 2, "followups": 3} {
			var q struct{ ModelUsages struct{ TotalCount int } }
			srv.must(alice, `query($s: String!) { modelUsages(where: {step: $s}) { totalCount } }`, map[string]any{"s": step}, &q)
			if q.ModelUsages.TotalCount != want {
				t.Fatalf("%d usage rows of step %s, want %d", q.ModelUsages.TotalCount, step, want)
			}
		}
	})
}

// TestFollowUps: an answer's suggested questions are sent as a FOLLOW_UPS
// event and stored on the message; a model answer in lines is read too.
func TestFollowUps(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	llmSrv := llmtest.NewOpenAIServer(t, llmtest.Route(
		llmtest.Rule{Contains: followUpsPrompt, Reply: llmtest.Text(
			"1. How does price vary with area?\n2. Which city has the most houses?\n3. What is the median price?\n4. One too many?")},
		housekeepingRule,
		llmtest.Rule{Contains: "You are data_viz_agent", Reply: llmtest.Text(
			"```python\nimport plotly.express as px\nfig = px.bar(df, x='city', y='price', title='Price by city')\nfig.show()\n```\nA chart.")},
	).Handle)
	srv := startServer(t, map[string]string{
		"OPENAI_API_KEY": llmKey, "OPENAI_BASE_URL": llmSrv.BaseURL(), "DEFAULT_MODEL": "gpt-5-mini",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	alice := srv.session()
	chatID := housesChat(t, srv, alice)
	var r struct {
		SendMessage struct{ ID string } `json:"sendMessage"`
	}
	srv.must(alice, sendMutation, map[string]any{"chat": chatID, "content": "@data_viz_agent chart the price by city"}, &r)
	evs, gerr, err := srv.subscribe(ctx, "graphql-transport-ws", authInit(alice), r.SendMessage.ID, 0, nil)
	if err != nil || gerr != nil {
		t.Fatalf("subscribe: %v %+v", err, gerr)
	}
	want := []string{"How does price vary with area?", "Which city has the most houses?", "What is the median price?"}
	fu, msg := find(evs, "FOLLOW_UPS"), find(evs, "MESSAGE")
	if fu == nil || msg == nil || fu.MessageID != msg.MessageID || fmt.Sprint(fu.FollowUps) != fmt.Sprint(want) {
		t.Fatalf("FOLLOW_UPS %+v, MESSAGE %+v", fu, msg)
	}
	if last := evs[len(evs)-1]; last.Type != "RUN_SUCCEEDED" {
		t.Fatalf("last event %+v", last)
	}
	// The interpreter saw the chart's summary.
	var sawChart bool
	for _, req := range llmSrv.Requests() {
		m := req.LastMessage()
		sawChart = sawChart || (strings.Contains(m, interpreterPrompt) && strings.Contains(m, `Chart 1: title "Price by city"`))
	}
	if !sawChart {
		t.Fatal("the interpreter's prompt lacks the chart's summary")
	}
	var q struct{ Node struct{ FollowUps []string } }
	srv.must(alice, `query($id: ID!) { node(id: $id) { ... on Message { followUps } } }`, map[string]any{"id": msg.MessageID}, &q)
	if fmt.Sprint(q.Node.FollowUps) != fmt.Sprint(want) {
		t.Fatalf("stored follow-ups %q", q.Node.FollowUps)
	}
}
