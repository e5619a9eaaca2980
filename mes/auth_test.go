package mes_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/pilotline/pilotline/mes"
)

func TestNewSecret(t *testing.T) {
	a, b := mes.NewSecret(mes.TokenPrefix), mes.NewSecret(mes.TokenPrefix)
	assert.True(t, strings.HasPrefix(a, "plt_"))
	assert.Len(t, a, len("plt_")+43, "256 bits in unpadded base64url")
	assert.NotEqual(t, a, b)
	assert.Len(t, mes.HashSecret(a), 64)
	assert.NotEqual(t, mes.HashSecret(a), mes.HashSecret(b))
	assert.True(t, mes.SecretEqual(a, a))
	assert.False(t, mes.SecretEqual(a, b))
	assert.False(t, mes.SecretEqual(a, ""))
}

func TestUserValidate(t *testing.T) {
	tests := []struct {
		name string
		u    mes.User
		ok   bool
	}{
		{"engineer", mes.User{ID: "li.wei", Role: mes.RoleEngineer}, true},
		{"customer", mes.User{ID: "zhang-san", Role: mes.RoleCustomer, Org: "acme-dental"}, true},
		{"customer without org", mes.User{ID: "zhang", Role: mes.RoleCustomer}, false},
		{"qa with org", mes.User{ID: "qa1", Role: mes.RoleQA, Org: "acme"}, false},
		{"no role", mes.User{ID: "li"}, false},
		{"upper case", mes.User{ID: "Li", Role: mes.RoleAdmin}, false},
		{"one char", mes.User{ID: "l", Role: mes.RoleAdmin}, false},
		{"dot dot", mes.User{ID: "a..b", Role: mes.RoleAdmin}, false},
		{"slash", mes.User{ID: "a/b", Role: mes.RoleAdmin}, false},
		{"bad org slug", mes.User{ID: "zhang", Role: mes.RoleCustomer, Org: "Acme Dental"}, false},
	}
	for _, tt := range tests {
		err := tt.u.Validate()
		if tt.ok {
			assert.NoError(t, err, tt.name)
		} else {
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), tt.name)
		}
	}
	assert.Error(t, (&mes.Org{ID: "acme", Name: " "}).Validate())
	assert.NoError(t, (&mes.Org{ID: "acme", Name: "Acme"}).Validate())
}

func TestAPITokenActive(t *testing.T) {
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	assert.True(t, (&mes.APIToken{}).Active(now))
	assert.True(t, (&mes.APIToken{Expires: now.Add(time.Second)}).Active(now))
	assert.False(t, (&mes.APIToken{Expires: now}).Active(now))
	assert.False(t, (&mes.APIToken{Revoked: now.Add(-time.Hour)}).Active(now))
	var nilToken *mes.APIToken
	assert.False(t, nilToken.Active(now))
}
