package bolt_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
)

func TestUsersAndOrgs(t *testing.T) {
	clk := newClock()
	db, _ := MustOpenDB(t, bolt.Options{Line: mes.LineClockFrom(clk.Now), Wall: mes.NewWallClock(clk.Now)})
	users, orgs := bolt.NewUserService(db), bolt.NewOrgService(db)
	ctx := context.Background()

	require.NoError(t, orgs.CreateOrg(ctx, &mes.Org{ID: "acme-dental", Name: "Acme Dental"}))
	err := orgs.CreateOrg(ctx, &mes.Org{ID: "acme-dental", Name: "Again"})
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	err = orgs.CreateOrg(ctx, &mes.Org{ID: "Bad Slug", Name: "x"})
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
	o, err := orgs.FindOrg(ctx, "acme-dental")
	require.NoError(t, err)
	assert.Equal(t, clk.Now(), o.Created)
	_, err = orgs.FindOrg(ctx, "nobody")
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))

	cust := &mes.User{ID: "zhang.san", Name: "张三", Role: mes.RoleCustomer, Org: "acme-dental", PasswordHash: "$argon2id$x"}
	require.NoError(t, users.CreateUser(ctx, cust))
	got, err := users.FindUser(ctx, "zhang.san")
	require.NoError(t, err)
	assert.Equal(t, "$argon2id$x", got.PasswordHash, "the hash is stored although mes.User hides it from JSON")
	assert.Equal(t, "acme-dental", got.Org)

	for name, u := range map[string]*mes.User{
		"taken":              {ID: "zhang.san", Role: mes.RoleEngineer},
		"customer no org":    {ID: "li.si", Role: mes.RoleCustomer},
		"customer bad org":   {ID: "li.si", Role: mes.RoleCustomer, Org: "nobody"},
		"staff with org":     {ID: "li.si", Role: mes.RoleEngineer, Org: "acme-dental"},
		"unknown role":       {ID: "li.si", Role: "root"},
		"upper-case user id": {ID: "Li.Si", Role: mes.RoleQA},
	} {
		err := users.CreateUser(ctx, u)
		assert.Contains(t, []string{mes.EINVALID, mes.ECONFLICT}, mes.ErrorCode(err), name)
	}
	list, err := users.ListUsers(ctx, mes.UserFilter{})
	require.NoError(t, err)
	assert.Len(t, list, 1, "nothing stored by refused creations")

	// First admin: only once, even when two setups race.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = users.CreateFirstAdmin(ctx, &mes.User{ID: "admin" + string(rune('a'+i)), Role: mes.RoleAdmin})
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
		}
	}
	assert.Equal(t, 1, wins)
	admins, err := users.ListUsers(ctx, mes.UserFilter{Role: mes.RoleAdmin})
	require.NoError(t, err)
	assert.Len(t, admins, 1)

	// Update: fn's result is validated and stored; id and created stay.
	u, err := users.UpdateUser(ctx, "zhang.san", func(u *mes.User) error { u.Disabled = true; u.ID = "other"; return nil })
	require.NoError(t, err)
	assert.True(t, u.Disabled)
	assert.Equal(t, "zhang.san", u.ID)
	_, err = users.UpdateUser(ctx, "zhang.san", func(u *mes.User) error { u.Role = mes.RoleEngineer; return nil })
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), "an engineer with an org")
	got, err = users.FindUser(ctx, "zhang.san")
	require.NoError(t, err)
	assert.Equal(t, mes.RoleCustomer, got.Role, "a refused update stores nothing")
	_, err = users.UpdateUser(ctx, "nobody", func(*mes.User) error { return nil })
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))

	byOrg, err := users.ListUsers(ctx, mes.UserFilter{Org: "acme-dental"})
	require.NoError(t, err)
	require.Len(t, byOrg, 1)
	assert.Equal(t, "zhang.san", byOrg[0].ID)
}

func TestSessions(t *testing.T) {
	clk := newClock()
	db, _ := MustOpenDB(t, bolt.Options{Line: mes.LineClockFrom(clk.Now), Wall: mes.NewWallClock(clk.Now)})
	ss := bolt.NewSessionService(db)
	ctx := context.Background()
	now := clk.Now()

	mk := func(secret, user string, ttl time.Duration, created time.Time) *mes.Session {
		return &mes.Session{IDHash: mes.HashSecret(secret), User: user, CSRF: "csrf-" + secret, Created: created, Expires: created.Add(ttl)}
	}
	require.NoError(t, ss.CreateSession(ctx, mk("a", "li.wei", time.Hour, now)))
	require.NoError(t, ss.CreateSession(ctx, mk("b", "li.wei", 2*time.Hour, now)))
	require.NoError(t, ss.CreateSession(ctx, mk("c", "chen", 2*time.Hour, now)))
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(ss.CreateSession(ctx, &mes.Session{IDHash: "short", User: "x", CSRF: "y"})))

	got, err := ss.FindSession(ctx, mes.HashSecret("a"), now.Add(59*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, "csrf-a", got.CSRF)
	_, err = ss.FindSession(ctx, mes.HashSecret("a"), now.Add(time.Hour))
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err), "expired")
	_, err = ss.FindSession(ctx, mes.HashSecret("zz"), now)
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))

	// A later login drops the expired session "a" from the store.
	require.NoError(t, ss.CreateSession(ctx, mk("d", "chen", time.Hour, now.Add(90*time.Minute))))
	_, err = ss.FindSession(ctx, mes.HashSecret("a"), now)
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err), "dropped, not just expired")
	_, err = ss.FindSession(ctx, mes.HashSecret("b"), now)
	require.NoError(t, err, "unexpired sessions stay")

	require.NoError(t, ss.DeleteSession(ctx, mes.HashSecret("c")))
	_, err = ss.FindSession(ctx, mes.HashSecret("c"), now)
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err))
	require.NoError(t, ss.DeleteSession(ctx, mes.HashSecret("c")), "deleting twice is fine")

	n, err := ss.DeleteUserSessions(ctx, "li.wei")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = ss.FindSession(ctx, mes.HashSecret("d"), now.Add(90*time.Minute))
	require.NoError(t, err, "other users' sessions stay")
}

func TestTokens(t *testing.T) {
	clk := newClock()
	db, _ := MustOpenDB(t, bolt.Options{Line: mes.LineClockFrom(clk.Now), Wall: mes.NewWallClock(clk.Now)})
	ts := bolt.NewTokenService(db)
	ctx := context.Background()
	require.NoError(t, bolt.NewUserService(db).CreateUser(ctx, &mes.User{ID: "li.wei", Role: mes.RoleEngineer}))

	secret := mes.NewSecret(mes.TokenPrefix)
	tok := &mes.APIToken{User: "li.wei", Name: "bridge", Hash: mes.HashSecret(secret), Hint: secret[:8]}
	require.NoError(t, ts.CreateToken(ctx, tok))
	assert.Equal(t, "T000001", tok.ID)
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(ts.CreateToken(ctx, &mes.APIToken{User: "ghost", Hash: mes.HashSecret("x")})))

	got, err := ts.FindTokenByHash(ctx, mes.HashSecret(secret))
	require.NoError(t, err)
	assert.Equal(t, tok.ID, got.ID)
	assert.True(t, got.Active(clk.Now()))
	list, err := ts.ListTokens(ctx, "li.wei")
	require.NoError(t, err)
	assert.Len(t, list, 1)
	list, err = ts.ListTokens(ctx, "chen")
	require.NoError(t, err)
	assert.Empty(t, list)

	revoked, err := ts.RevokeToken(ctx, tok.ID, clk.Now())
	require.NoError(t, err)
	assert.False(t, revoked.Active(clk.Now()))
	_, err = ts.FindTokenByHash(ctx, mes.HashSecret(secret))
	assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err), "a revoked token no longer resolves")
	_, err = ts.RevokeToken(ctx, tok.ID, clk.Now())
	assert.Equal(t, mes.ECONFLICT, mes.ErrorCode(err))
	for _, id := range []string{"T000002", "T1", "x", ""} {
		_, err = ts.RevokeToken(ctx, id, clk.Now())
		assert.Equal(t, mes.ENOTFOUND, mes.ErrorCode(err), id)
	}
	kept, err := ts.FindToken(ctx, tok.ID)
	require.NoError(t, err)
	assert.False(t, kept.Revoked.IsZero(), "the revoked token stays listed for the record")
}
