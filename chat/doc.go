// Package chat keeps the chats and the feedback on their answers: creating,
// renaming and deleting a user's chats, the datasets a chat works on, and the
// users' ratings of answers. What runs in a chat (messages, answers) is the
// run service's (package orchestrator).
package chat
