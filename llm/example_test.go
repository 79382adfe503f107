package llm_test

import (
	"context"
	"fmt"

	"github.com/autoanalyst/autoanalyst/llm"
)

func ExampleScripted() {
	model := llm.NewScripted("The average sale is 42 dollars.")
	metered := llm.Metered(model, llm.DefaultRegistry(), func(_ context.Context, u llm.Usage, err error) {
		fmt.Printf("\nrecorded: %s %s in=%d out=%d cost=$%.6f\n", u.Provider, u.Model, u.InputTokens, u.OutputTokens, u.CostUSD)
	})

	resp, err := metered.Generate(context.Background(), llm.Request{
		Model:    "gpt-5-nano",
		Messages: []llm.Message{{Role: llm.RoleUser, Content: "What is the average sale?"}},
		OnToken:  func(chunk string) { fmt.Printf("[%s]", chunk) },
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Println(resp.Content)
	fmt.Println(model.Requests()[0].Messages[0].Content)
	// Output:
	// [The ][average ][sale ][is ][42 ][dollars.]
	// recorded: scripted gpt-5-nano in=5 out=6 cost=$0.000003
	// The average sale is 42 dollars.
	// What is the average sale?
}
