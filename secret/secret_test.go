package secret

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestBox(t *testing.T) {
	key := strings.Repeat("k", MinSecretLen)
	box, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(strings.Repeat("o", MinSecretLen))
	sealed, err := box.Seal([]byte("sk-user-123"), "usr_a")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("sk-user-123")) {
		t.Fatal("the sealed value contains the plaintext")
	}
	again, _ := box.Seal([]byte("sk-user-123"), "usr_a")
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	tests := []struct {
		name   string
		box    *Box
		sealed []byte
		owner  string
		want   string
		err    error
	}{
		{"same key and owner", box, sealed, "usr_a", "sk-user-123", nil},
		{"another owner", box, sealed, "usr_b", "", ErrOpen},
		{"another secret", other, sealed, "usr_a", "", ErrOpen},
		{"altered", box, tampered, "usr_a", "", ErrOpen},
		{"truncated", box, sealed[:10], "usr_a", "", ErrOpen},
		{"empty", box, nil, "usr_a", "", ErrOpen},
		{"no secret", nil, sealed, "usr_a", "", ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.box.Open(tt.sealed, tt.owner)
			if !errors.Is(err, tt.err) || string(got) != tt.want {
				t.Fatalf("Open = %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		secret  string
		nilBox  bool
		wantErr bool
	}{
		{"", true, false},
		{"short", true, true},
		{strings.Repeat("x", MinSecretLen), false, false},
	}
	for _, tt := range tests {
		b, err := New(tt.secret)
		if (err != nil) != tt.wantErr || (b == nil) != tt.nilBox {
			t.Errorf("New(%q) = %v, %v", tt.secret, b, err)
		}
	}
	var nb *Box
	if _, err := nb.Seal([]byte("x"), "u"); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("nil box Seal: %v", err)
	}
}
