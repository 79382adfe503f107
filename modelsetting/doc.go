// Package modelsetting owns the choice of model: it stores each user's model
// settings (provider, model, temperature, max tokens, and their own API key,
// sealed with the server's secret), lists the models the registry offers,
// and resolves the model and provider of a user's run, building the LLM
// client from the user's key or the server's.
package modelsetting
