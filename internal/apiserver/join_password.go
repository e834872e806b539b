package apiserver

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Node passwords are kept as PBKDF2-SHA256 hashes with a random salt, so
// that reading the Secret does not give a machine's password away. An
// agent's password is 32 random bytes, so a modest iteration count is
// plenty; a join costs a few milliseconds of it.
const (
	nodePasswordScheme = "pbkdf2-sha256"
	nodePasswordIter   = 10000
	nodePasswordSalt   = 16
	nodePasswordKeyLen = 32
)

// hashNodePassword is $pbkdf2-sha256$<iterations>$<salt>$<key>, base64.
func hashNodePassword(password string) (string, error) {
	salt := make([]byte, nodePasswordSalt)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := pbkdf2.Key(sha256.New, password, salt, nodePasswordIter, nodePasswordKeyLen)
	if err != nil {
		return "", err
	}
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$%s$%d$%s$%s", nodePasswordScheme, nodePasswordIter, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// verifyNodePassword says whether password has the hash; a malformed
// hash matches nothing.
func verifyNodePassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 5 || parts[0] != "" || parts[1] != nodePasswordScheme {
		return false
	}
	iter, err := strconv.Atoi(parts[2])
	if err != nil || iter < 1 || iter > 10*nodePasswordIter {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[3])
	want, err2 := enc.DecodeString(parts[4])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}
