// Package llm is the application's access to language models.
//
// A Provider performs one model call (Generate) from a Request (model,
// messages, temperature, max tokens and, for a streamed answer, an OnToken
// callback) and returns the answer with the Usage the provider reported.
//
//   - NewOpenAI is the Provider for OpenAI's chat-completions API and any
//     compatible endpoint (Groq, Gemini, OpenRouter, Ollama, vLLM), and
//     NewAnthropic the one for Anthropic's Messages API, both built on
//     langchaingo and sharing one call loop: it applies the registry's
//     safeguards, streams, takes token counts from the provider (also for
//     streamed calls), bounds each attempt with a timeout, retries
//     429/5xx/timeouts with exponential backoff (honouring Retry-After) and
//     never puts the API key in an error.
//   - Providers is the server's set of configured providers: it hands each
//     model to the provider that serves it (NewProvider builds one by name).
//   - Registry is the model registry: provider, display name, context
//     window, USD price per 1K input and output tokens, tier (credits) and
//     reasoning flag of each model, with Cost and the safeguards
//     ClampTemperature and CapMaxTokens. DefaultRegistry returns a fresh copy
//     of the shipped models; nothing in the package is global and mutable.
//   - Metered wraps a Provider so that every call that spent tokens is
//     recorded once, with its cost, through a callback (the caller stores the
//     ModelUsage row).
//   - Scripted is a deterministic Provider for tests; package llmtest holds
//     local OpenAI- and Anthropic-protocol HTTP servers for end-to-end tests.
//
// Without an API key NewOpenAI and NewAnthropic return ErrNotConfigured.
package llm
