package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// continueToken is what a paged List hands back: the snapshot revision the
// next page must be read at, and the next key to read, relative to the listed
// prefix (as kube-apiserver's tokens are) so a token cannot be replayed
// against another prefix to read keys outside it.
type continueToken struct {
	Version  string `json:"v"`
	Revision int64  `json:"rv"`
	Start    string `json:"start"`
}

const tokenVersion = "mini.store/v1"

func encodeContinue(rev int64, prefix, nextKey string) string {
	b, _ := json.Marshal(continueToken{Version: tokenVersion, Revision: rev, Start: strings.TrimPrefix(nextKey, prefix)})
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseContinue validates a token and returns the revision and the absolute
// key to resume at.
func parseContinue(token, prefix string) (rev int64, start string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, "", fmt.Errorf("%w: not base64: %w", ErrInvalidContinue, err)
	}
	var t continueToken
	if err := json.Unmarshal(raw, &t); err != nil {
		return 0, "", fmt.Errorf("%w: %w", ErrInvalidContinue, err)
	}
	switch {
	case t.Version != tokenVersion:
		return 0, "", fmt.Errorf("%w: unknown version %q", ErrInvalidContinue, t.Version)
	case t.Revision <= 0:
		return 0, "", fmt.Errorf("%w: revision %d", ErrInvalidContinue, t.Revision)
	case t.Start == "":
		return 0, "", fmt.Errorf("%w: empty start key", ErrInvalidContinue)
	}
	// The start is relative, so the resumed list stays inside the prefix the
	// caller asked for whatever the token says.
	// Pages end at some key k and resume at k+"\x00", the next possible key.
	start = prefix + t.Start
	if err := validateKey(strings.TrimSuffix(start, "\x00")); err != nil {
		return 0, "", fmt.Errorf("%w: start key: %w", ErrInvalidContinue, err)
	}
	return t.Revision, start, nil
}
