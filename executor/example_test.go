package executor_test

import (
	"context"
	"fmt"
	"log"

	"github.com/autoanalyst/autoanalyst/executor"
)

func ExampleExecutor_Execute() {
	e, err := executor.New(executor.Config{Sandbox: true})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	res, err := e.Execute(context.Background(), executor.Request{
		Key:      "chat-1",
		Datasets: []executor.Dataset{{Name: "sales", Path: "testdata/sales.csv", Format: "csv"}},
		Code: `print(df.shape)
# preprocessing_agent code start
total = sales['units'].sum()
print(total / missing)
# preprocessing_agent code end`,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(res.Stdout)
	fmt.Println(res.Error, "at line", res.Error.Line, "in", res.Error.Agent)
	// Output:
	// (6, 5)
	// NameError: name 'missing' is not defined at line 4 in preprocessing_agent
}
