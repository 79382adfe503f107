// A client's use of the generated types, type-checked with them by
// codegen_test.go (which copies this file next to schema.ts and
// operations.ts): each line compiles only when the types say what the schema
// does, and each @ts-expect-error line must fail to compile.
import type {
  ChatsQuery,
  ChatsQueryVariables,
  CreateChatMutationVariables,
  CreateGuestSessionMutation,
  LLMProvider,
  RunEventsSubscription,
  RunEventsSubscriptionVariables,
  SendMessageMutationVariables,
  ViewerQuery,
} from "./operations";
import { LLMProvider as Provider, type Scalars } from "./schema";

export function token(m: CreateGuestSessionMutation): string {
  return m.createGuestSession.token;
}

// viewer is null without a session; modelSettings null with the defaults.
export function provider(q: ViewerQuery): LLMProvider | null | undefined {
  return q.viewer?.modelSettings?.provider;
}

export const openai: LLMProvider = Provider.OPENAI;
// @ts-expect-error: not a provider.
export const unknownProvider: LLMProvider = "OPENAl";

export const chat: CreateChatMutationVariables = { input: { title: "Houses", datasetIDs: ["1"] } };
export const ask: SendMessageMutationVariables = { input: { chatID: "1", content: "Mean price?" } };
// @ts-expect-error: sendMessage needs its content.
export const askNothing: SendMessageMutationVariables = { input: { chatID: "1" } };

export const follow: RunEventsSubscriptionVariables = { runID: "1", after: 3 };

// A figure is any JSON value; a table's cells are JSON values or null.
export function figures(e: RunEventsSubscription): unknown[] {
  const { type, result } = e.runEvents;
  return type === "EXECUTION_RESULT" && result ? result.figures : [];
}
export const figure: Scalars["JSON"]["output"] = { data: [], layout: { title: "Price" } };

// Pages: first and after in, endCursor and hasNextPage out.
export function next(page: ChatsQuery, first = 20): ChatsQueryVariables | null {
  const { hasNextPage, endCursor } = page.chats.pageInfo;
  return hasNextPage ? { first, after: endCursor } : null;
}
export function titles(page: ChatsQuery): string[] {
  return (page.chats.edges ?? []).flatMap((edge) => (edge?.node ? [edge.node.title] : []));
}
