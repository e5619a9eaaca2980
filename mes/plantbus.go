package mes

// PlantBus is the line configuration's "mqtt" section: how the line
// publishes to the plant's MQTT broker and where it sits in the plant's
// ISA-95 hierarchy (enterprise / site / area / line). Every field is
// optional; `serve --mqtt URL` overrides URL.
type PlantBus struct {
	URL         string `json:"url,omitempty"`          // tcp://HOST:1883, ssl://HOST:8883, ws://…, wss://…
	ClientID    string `json:"client_id,omitempty"`    // default "pilotline-" + Line
	Username    string `json:"username,omitempty"`     // MQTT user name
	PasswordEnv string `json:"password_env,omitempty"` // name of the environment variable holding the password
	CAFile      string `json:"ca_file,omitempty"`      // PEM CA bundle for ssl:// and wss:// (default: the system's)
	Enterprise  string `json:"enterprise,omitempty"`   // default "pilotline"
	Site        string `json:"site,omitempty"`         // default "site"
	Area        string `json:"area,omitempty"`         // default "grinding"
	Line        string `json:"line,omitempty"`         // default: the line's name, lower case, spaces as '-'
	TwinURL     string `json:"twin_url,omitempty"`     // this line's own twin page, shown by the plant view
	QueueMax    int    `json:"queue_max,omitempty"`    // store-and-forward bound in messages (default 500000)
}
