package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// codegenDir holds the codegen test's client: graphql-codegen (cli, typescript,
// typescript-operations) and typescript pinned by its package-lock.json (`make
// deps` runs `npm ci` there), codegen.ts, operations.graphql and client.ts.
const codegenDir = "testdata/codegen"

// TestGraphQLCodegen points graphql-codegen (testdata/codegen/codegen.ts) at
// the real binary twice: at its endpoint, /graphql, which it introspects over
// HTTP, and at its published SDL, /graphql/schema.graphql. Each run must exit
// 0 and write schema.ts (the typescript plugin: every schema type, the Scalars
// with JSON, the LLMProvider enum) and operations.ts (typescript-operations:
// the types of operations.graphql's createGuestSession, viewer, createChat,
// sendMessage, runEvents and a page of chats); tsc then type-checks both with
// client.ts, a client's use of them. The two runs must generate the same types
// (the SDL's files only add the custom scalars' descriptions, which the
// typescript plugin takes from SDL alone). Without Node.js 20+ or the packages
// it is skipped, and with CI=true it fails.
func TestGraphQLCodegen(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test")
	}
	node := nodeFor(t, 20, "graphql-codegen", codegenDir,
		"@graphql-codegen/cli", "@graphql-codegen/typescript", "@graphql-codegen/typescript-operations", "typescript")
	s := startServer(t, nil)

	generated := map[string]map[string]string{} // run: file: text
	for _, run := range []struct{ name, url string }{
		{"introspection", s.url + "/graphql"},
		{"sdl", s.url + "/graphql/schema.graphql"},
	} {
		t.Run(run.name, func(t *testing.T) {
			out := t.TempDir()
			codegenRun(t, node, []string{"SCHEMA_URL=" + run.url, "OUT_DIR=" + out},
				"node_modules/.bin/graphql-codegen", "--config", "codegen.ts")

			files := map[string]string{}
			for _, name := range []string{"schema.ts", "operations.ts"} {
				b, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Fatalf("graphql-codegen exited 0 without writing %s: %v", name, err)
				}
				files[name] = string(b)
			}
			generated[run.name] = files

			for name, want := range map[string][]string{
				"schema.ts": {
					"export type Scalars = {",
					"JSON: { input: unknown; output: unknown; }",
					"Time: { input: string; output: string; }",
					"export enum LLMProvider {",
					"OPENAI = 'OPENAI'",
					"OLLAMA = 'OLLAMA'",
					"export type Query = {",
					"export type Mutation = {",
					"export type Subscription = {",
					"runEvents: RunEvent;",
					"export type ExecutionResult = {",
					"figures: Array<Scalars['JSON']['output']>;",
				},
				"operations.ts": {
					"export type CreateGuestSessionMutation = { createGuestSession: { token: string, expiresAt: string,",
					"export type ViewerQuery = { viewer: {",
					"provider: LLMProvider | null",
					"export type LLMProvider =",
					"export type CreateChatMutationVariables = ",
					"export type CreateChatMutation = { createChat: {",
					"export type SendMessageMutationVariables = ",
					"export type SendMessageMutation = { sendMessage: {",
					"export type SendMessageInput = {",
					"export type RunEventsSubscriptionVariables = Exact<{\n  runID: string | number;\n  after?: number | null | undefined;\n}>;",
					"export type RunEventsSubscription = { runEvents: { seq: number, type: RunEventType,",
					"figures: Array<unknown>",
					"rows: Array<Array<unknown>>",
					"export type ChatsQueryVariables = Exact<{\n  first?: number | null | undefined;\n  after?: string | null | undefined;\n}>;",
					"export type ChatsQuery = { chats: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null },",
				},
			} {
				for _, w := range want {
					if !strings.Contains(files[name], w) {
						t.Errorf("%s lacks %q", name, w)
					}
				}
			}
			if t.Failed() {
				t.Logf("operations.ts:\n%s", files["operations.ts"])
			}

			// The types compile, and a client's use of them (client.ts, with
			// lines that must not compile) type-checks against them.
			client, err := os.ReadFile(filepath.Join(codegenDir, "client.ts"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(out, "client.ts"), client, 0o644); err != nil {
				t.Fatal(err)
			}
			codegenRun(t, node, nil, "node_modules/typescript/bin/tsc", "--noEmit", "--strict",
				"--target", "es2022", "--lib", "es2022,dom", "--module", "esnext", "--moduleResolution", "bundler",
				filepath.Join(out, "schema.ts"), filepath.Join(out, "operations.ts"), filepath.Join(out, "client.ts"))
		})
	}

	// The endpoint's introspection and the published SDL make the same types.
	in, sdl := generated["introspection"], generated["sdl"]
	if in == nil || sdl == nil {
		return
	}
	if in["operations.ts"] != sdl["operations.ts"] {
		t.Errorf("operations.ts from the endpoint and from the SDL differ:\n%s\n---\n%s", in["operations.ts"], sdl["operations.ts"])
	}
	if a, b := withoutDocComments(in["schema.ts"]), withoutDocComments(sdl["schema.ts"]); a != b {
		t.Errorf("schema.ts from the endpoint and from the SDL differ beyond comments:\n%s", firstDifference(a, b))
	}
}

// codegenRun runs node with args in codegenDir, with env added to the
// environment, and fails the test unless it exits 0.
func codegenRun(t *testing.T, node string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = codegenDir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", strings.Join(env, " "), strings.Join(args, " "), err, out.String())
	}
	t.Logf("%s: %v", filepath.Base(args[0]), time.Since(start).Round(time.Millisecond))
}

// withoutDocComments drops the lines of /** */ comments from TypeScript.
func withoutDocComments(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "/**") || strings.HasPrefix(l, "*") {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}

// firstDifference shows the first line where a and b differ.
func firstDifference(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d: %q\nline %d: %q", i+1, x, i+1, y)
		}
	}
	return ""
}
