// Package catalog keeps the catalogue of agent templates: the built-in
// templates of its configuration file (synced into the database at start-up),
// each user's custom templates, and each user's preferences of them (which
// are enabled, how often each was used). Runs read from it which agents a user
// may call; it runs nothing itself.
package catalog
