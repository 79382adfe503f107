package orchestrator

import (
	"context"
	"strings"
	"unicode"

	"github.com/autoanalyst/autoanalyst/ent"
	"github.com/autoanalyst/autoanalyst/ent/chat"
	"github.com/autoanalyst/autoanalyst/ent/message"
)

// DefaultChatTitle is a new chat's title until its first question names it.
const DefaultChatTitle = "New Chat"

// maxTitleWords bounds a chat's automatic title.
const maxTitleWords = 3

// titleFrom makes a title of at most three words of text: letters, digits
// and inner hyphens or apostrophes, at most 60 characters; "" when text has
// no word.
func titleFrom(text string) string {
	words := strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '\'' || r == '’')
	})
	var out []string
	for _, w := range words {
		w = strings.Trim(w, "-'’")
		if w == "" {
			continue
		}
		out = append(out, w)
		if len(out) == maxTitleWords {
			break
		}
	}
	title := strings.Join(out, " ")
	if r := []rune(title); len(r) > 60 {
		title = strings.TrimRight(string(r[:60]), " -'’")
	}
	if title != "" {
		r := []rune(title)
		r[0] = unicode.ToUpper(r[0])
		title = string(r)
	}
	return title
}

// provisionalTitle is what a chat is called between its first question and
// the model's name for it: the question's first words (also the title for
// good when no model is configured).
func provisionalTitle(question string) string {
	if t := titleFrom(question); t != "" {
		return t
	}
	return DefaultChatTitle
}

// nameOnFirstMessage gives a chat whose first message this is, and whose
// title is still the default, the provisional title; tx is the transaction
// that stores the message.
func nameOnFirstMessage(ctx context.Context, tx *ent.Tx, chatID, content string) error {
	n, err := tx.Message.Query().Where(message.ChatID(chatID)).Count(ctx)
	if err != nil || n > 0 {
		return err
	}
	return tx.Chat.Update().Where(chat.ID(chatID), chat.Title(DefaultChatTitle)).
		SetTitle(provisionalTitle(content)).Exec(ctx)
}

// nameChat asks the model for the chat's title after its first question,
// unless the title is no longer the provisional one (the user renamed it,
// or an earlier attempt of this run named it). A failure is logged, not
// fatal: the provisional title stays.
func (s *Service) nameChat(t *turn) {
	provisional := provisionalTitle(t.rc.in.Content)
	if t.chat.Title != provisional {
		return
	}
	// Only the turn of the chat's first question names it, even when more
	// questions arrived before this turn ran.
	first, err := s.cfg.DB.Message.Query().Where(message.ChatID(t.chat.ID), message.SenderEQ(message.SenderUSER)).
		Order(ent.Asc(message.FieldCreatedAt), ent.Asc(message.FieldID)).FirstID(t.rc.user)
	if err != nil || t.rc.run.MessageID == nil || first != *t.rc.run.MessageID {
		return
	}
	title := titleFrom(s.shortAnswer(t, "chat_name", s.prompts.name, map[string]any{"Question": truncate(t.rc.in.Content, 2000)}, 200))
	if title == "" || title == provisional {
		return
	}
	err = s.cfg.DB.Chat.Update().Where(chat.ID(t.chat.ID), chat.Title(provisional)).SetTitle(title).Exec(t.rc.user)
	if err != nil {
		s.cfg.Logger.Warn().Err(err).Str("chat", t.chat.ID).Msg("store the chat's title")
	}
}
