package opcua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// maxOpsPerRequest caps every batched request whatever the server advertises:
// larger requests gain nothing and risk responses the server cannot chunk.
const maxOpsPerRequest = 1000

// tinyLimit is the advertised per-call limit below which the advertisement is
// treated as a hint rather than a rule (gap: gopcua's server advertises
// MaxNodesPerRead=32 and does not enforce it; repro: Read 500 nodes from
// server.New, all Good): the client then tries maxOpsPerRequest and falls back to the
// advertised value only if the server answers BadTooManyOperations.
const tinyLimit = 100

// security is the resolved security and identity settings of one endpoint.
type security struct {
	policy   string // "None" or "Basic256Sha256"
	mode     string // "None", "Sign", "SignAndEncrypt"
	username string
	password string
	pwEnv    string // the environment variable password came from
	tofu     bool   // trust a server certificate on first use
}

func endpointSecurity(a mes.Acquisition, e mes.Endpoint) security {
	s := security{policy: a.SecurityPolicy, mode: a.SecurityMode, username: a.Username, tofu: a.TrustOnFirstUse}
	pwEnv := a.PasswordEnv
	if e.SecurityPolicy != "" {
		s.policy = e.SecurityPolicy
	}
	if e.SecurityMode != "" {
		s.mode = e.SecurityMode
	}
	if e.Username != "" {
		s.username = e.Username
		pwEnv = e.PasswordEnv
	}
	if s.policy == "" {
		s.policy = "None"
	}
	if s.mode == "" {
		s.mode = "None"
	}
	if pwEnv != "" {
		s.password, s.pwEnv = os.Getenv(pwEnv), pwEnv
	}
	return s
}

func policyURI(p string) string {
	if p == "Basic256Sha256" {
		return ua.SecurityPolicyURIBasic256Sha256
	}
	return ua.SecurityPolicyURINone
}

func securityMode(m string) ua.MessageSecurityMode {
	switch m {
	case "Sign":
		return ua.MessageSecurityModeSign
	case "SignAndEncrypt":
		return ua.MessageSecurityModeSignAndEncrypt
	}
	return ua.MessageSecurityModeNone
}

// limits are the server's operation limits as the client applies them.
type limits struct {
	read, write, browse, translate, monitored int
	readProbe                                 bool // advertised read limit is tiny: try maxOpsPerRequest first
	readAdvertised                            int
}

func clampLimit(advertised uint32) (n int, tiny bool) {
	switch {
	case advertised == 0 || advertised >= maxOpsPerRequest:
		return maxOpsPerRequest, false
	case advertised < tinyLimit:
		return int(advertised), true
	}
	return int(advertised), false
}

// dial opens a session to url with the given security, the gopcua client's
// own reconnect switched off: the endpoint loop reconnects itself, so that
// node ids are resolved again and subscriptions re-created every time.
func dial(ctx context.Context, url string, sec security, ident *clientIdentity, timeout time.Duration, log *slog.Logger) (*gopcua.Client, error) {
	opts := []gopcua.Option{
		gopcua.AutoReconnect(false),
		gopcua.DialTimeout(timeout),
		gopcua.RequestTimeout(timeout),
		gopcua.ApplicationName("Pilotline MES"),
		gopcua.ApplicationURI(ApplicationURI),
		gopcua.ProductURI("urn:pilotline"),
		gopcua.SessionName("pilotline-acquisition"),
		gopcua.SessionTimeout(time.Minute),
	}
	authType := ua.UserTokenTypeAnonymous
	if sec.username != "" {
		authType = ua.UserTokenTypeUserName
		opts = append(opts, gopcua.AuthUsername(sec.username, sec.password))
	} else {
		opts = append(opts, gopcua.AuthAnonymous())
	}
	eps, err := gopcua.GetEndpoints(ctx, url, gopcua.DialTimeout(timeout), gopcua.RequestTimeout(timeout))
	if err != nil {
		return nil, fmt.Errorf("get endpoints: %w", err)
	}
	ep, err := selectEndpoint(eps, policyURI(sec.policy), securityMode(sec.mode), authType)
	switch {
	case err == nil:
		opts = append(opts, gopcua.SecurityFromEndpoint(ep, authType))
	case sec.policy == "None":
		// Some servers describe only the URL they were started with (not the
		// one behind a gateway or proxy); an unsecured channel needs no
		// server certificate, so connect anyway.
		opts = append(opts, gopcua.SecurityPolicy(ua.SecurityPolicyURINone), gopcua.SecurityMode(ua.MessageSecurityModeNone))
	default:
		return nil, err
	}
	if sec.policy != "None" {
		if ident == nil {
			return nil, errors.New("security policy needs a client certificate")
		}
		newly, err := ident.trustServer(ep.ServerCertificate, sec.tofu)
		if err != nil {
			return nil, err
		}
		if newly != "" {
			log.Warn("server certificate trusted on first use", "url", url, "file", newly)
		}
		opts = append(opts, gopcua.Certificate(ident.certDER), gopcua.PrivateKey(ident.key))
	}
	c, err := gopcua.NewClient(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if err := c.Connect(ctx); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return c, nil
}

// selectEndpoint picks the server endpoint with the wanted policy and mode
// that accepts the wanted user token. The URL the client connects to stays
// the configured one: servers often advertise a host name that does not
// resolve from here.
func selectEndpoint(eps []*ua.EndpointDescription, policy string, mode ua.MessageSecurityMode, auth ua.UserTokenType) (*ua.EndpointDescription, error) {
	var fallback *ua.EndpointDescription
	for _, ep := range eps {
		if ep.SecurityPolicyURI != policy || ep.SecurityMode != mode {
			continue
		}
		for _, t := range ep.UserIdentityTokens {
			if t.TokenType == auth {
				return ep, nil
			}
		}
		if fallback == nil {
			fallback = ep
		}
	}
	if fallback != nil {
		return fallback, nil
	}
	return nil, fmt.Errorf("server offers no endpoint with policy %s mode %s", policy, mode)
}

// readLimits reads Server/ServerCapabilities/OperationLimits. Servers that do
// not publish a limit get maxOpsPerRequest.
func readLimits(ctx context.Context, c *gopcua.Client) limits {
	ids := []uint32{
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerWrite,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerBrowse,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIDs,
		id.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
	}
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither}
	for _, n := range ids {
		req.NodesToRead = append(req.NodesToRead, &ua.ReadValueID{NodeID: ua.NewNumericNodeID(0, n), AttributeID: ua.AttributeIDValue})
	}
	adv := make([]uint32, len(ids))
	if res, err := c.Read(ctx, req); err == nil && len(res.Results) == len(ids) {
		for i, dv := range res.Results {
			if dv == nil || dv.Status != ua.StatusOK || dv.Value == nil {
				continue
			}
			switch v := dv.Value.Value().(type) {
			case uint32:
				adv[i] = v
			case int32:
				adv[i] = uint32(max(v, 0))
			case uint16:
				adv[i] = uint32(v)
			}
		}
	}
	var l limits
	l.read, l.readProbe = clampLimit(adv[0])
	l.readAdvertised = l.read
	if l.readProbe {
		l.read = maxOpsPerRequest
	}
	l.write, _ = clampLimit(adv[1])
	l.browse, _ = clampLimit(adv[2])
	l.translate, _ = clampLimit(adv[3])
	l.monitored, _ = clampLimit(adv[4])
	return l
}
