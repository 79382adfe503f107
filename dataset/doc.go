// Package dataset receives uploads: it streams them to storage under a size
// limit, recognises their format, profiles them inside the sandbox and stores
// the Dataset row. Untrusted files are never parsed in the server process.
package dataset
