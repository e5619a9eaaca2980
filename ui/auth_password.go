package ui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/pilotline/pilotline/mes"
)

// PasswordParams are the argon2id cost parameters of new password hashes.
// Each hash records its own parameters, so raising them later leaves
// existing passwords verifiable.
type PasswordParams struct {
	Time    uint32 // passes over memory
	MemoryK uint32 // KiB
	Threads uint8
}

// DefaultPasswordParams: argon2id with 46 MiB, 2 passes, 1 lane — one hash
// takes about 100 ms on the line server's 2 cores (BenchmarkPasswordHash),
// inside the 50–250 ms a sign-in may cost.
//
// Why these: 46 MiB and one lane is the memory-hard setting OWASP lists for
// argon2id; a second pass doubles an attacker's cost per guess while a
// person signing in still does not notice it. One lane keeps a sign-in on
// one core, so two can run at once (MaxConcurrentHashes) while the other
// core serves the line, and memory stays bounded at 2 × 46 MiB.
var DefaultPasswordParams = PasswordParams{Time: 2, MemoryK: 46 * 1024, Threads: 1}

// Password limits: long passphrases are welcome; the upper bound only stops
// a megabyte "password" from being hashed.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 256
)

// MaxConcurrentHashes bounds argon2id computations in flight: each holds
// MemoryK of memory, so a burst of sign-ins must queue rather than exhaust
// the server.
const MaxConcurrentHashes = 2

const (
	saltLen = 16
	keyLen  = 32
)

// hashSem admits MaxConcurrentHashes computations at a time.
var hashSem = make(chan struct{}, MaxConcurrentHashes)

func acquireHash(ctx context.Context) error {
	select {
	case hashSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func releaseHash() { <-hashSem }

// validPassword checks a new password against the policy. Errors: EINVALID.
func validPassword(field, pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < MinPasswordLen:
		return invalid("%s: at least %d characters", field, MinPasswordLen)
	case len(pw) > MaxPasswordLen:
		return invalid("%s: at most %d bytes", field, MaxPasswordLen)
	case !utf8.ValidString(pw):
		return invalid("%s: not valid UTF-8", field)
	}
	return nil
}

// HashPassword returns the argon2id hash of password in the PHC string
// format: $argon2id$v=19$m=47104,t=2,p=1$<salt>$<hash> (unpadded base64).
func HashPassword(ctx context.Context, password string, p PasswordParams) (string, error) {
	if p.Time == 0 || p.MemoryK < 8*uint32(max(p.Threads, 1)) || p.Threads == 0 {
		return "", mes.Errorf(mes.EINVALID, "password params: time, memory and threads must be positive")
	}
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt)
	if err := acquireHash(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryK, p.Threads, keyLen)
	releaseHash()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryK, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches the encoded hash. A
// malformed hash is an error, never a match.
func VerifyPassword(ctx context.Context, encoded, password string) (bool, error) {
	p, salt, want, err := parsePasswordHash(encoded)
	if err != nil {
		return false, err
	}
	if err := acquireHash(ctx); err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryK, p.Threads, uint32(len(want)))
	releaseHash()
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parsePasswordHash reads the PHC string HashPassword writes.
func parsePasswordHash(encoded string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, fmt.Errorf("password hash: not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("password hash: unsupported argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryK, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: bad parameters %q", parts[3])
	}
	// Bounds keep a tampered hash from making verification allocate or spin
	// without limit.
	if p.Time == 0 || p.Time > 64 || p.Threads == 0 || p.MemoryK < 8 || p.MemoryK > 4<<20 {
		return p, nil, nil, fmt.Errorf("password hash: parameters out of range %q", parts[3])
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, fmt.Errorf("password hash: bad salt")
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, fmt.Errorf("password hash: bad key")
	}
	return p, salt, key, nil
}
