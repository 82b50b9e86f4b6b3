package secret

import "regexp"

// This file is the whole of what Rampart knows about recognising
// credentials: every detector is data (a pattern, key words, a value test)
// with the true and false examples the tests hold it to
// (TestDetectorExamples). Code elsewhere only applies them.

// Method is how a detector recognises a credential.
type Method int

const (
	// Format detectors match a token shape that is a credential wherever it
	// appears (a cloud key, a private key block).
	Format Method = iota
	// Keyword detectors match a value stored under a name that says secret
	// (an env var, a data key, a flag, a header) when the value has the
	// length and entropy of a credential and is not a reference or a
	// placeholder.
	Keyword
	// Command detectors match a credential inside a command line or URL;
	// the pattern's group "v" is the value, and group "k", when present, is
	// a name that must say secret (as for Keyword).
	Command
)

// Detector is one way of recognising a credential.
type Detector struct {
	ID   string
	Kind string // what a finding says the value is
	How  Method
	// Hints are literals one of which every match contains (lower case for
	// Command detectors, which are matched case-blind): the pattern only
	// runs on text holding one, which keeps the common case (no secret) to a
	// few substring searches.
	Hints   []string
	Pattern *regexp.Regexp
	// Words make a name secret for Keyword detectors (matched in the lower
	// case name with - turned into _).
	Words []string
	// True and False are examples: a value for Format and Command
	// detectors, "name=value" for Keyword detectors.
	True, False []string
}

// Keyword value tests.
const (
	minLength  = 8
	minEntropy = 3.0 // bits per byte; "password" is 2.75, a random 12-character value 3.4+
)

// Detectors, tried in order: formats first, then names, then commands.
var Detectors = []Detector{
	{ID: "private-key", Kind: "private key", How: Format, Hints: []string{"PRIVATE KEY"},
		Pattern: regexp.MustCompile(`-----BEGIN ((RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP) )?PRIVATE KEY( BLOCK)?-----`),
		True:    []string{"-----BEGIN RSA PRIVATE KEY-----\nMIIE", "-----BEGIN OPENSSH PRIVATE KEY-----"},
		False:   []string{"-----BEGIN CERTIFICATE-----", "-----BEGIN PUBLIC KEY-----", "private key file: /etc/tls/tls.key"}},
	{ID: "aws-access-key-id", Kind: "AWS access key ID", How: Format, Hints: []string{"AKIA", "ASIA", "ABIA", "ACCA"},
		Pattern: regexp.MustCompile(`\b(AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`),
		True:    []string{"AKIAQ3EGRTZ7YWXLMN2P", "key=ASIA5JKLMNOPQRSTUVWX"},
		False:   []string{"AKIA-not-a-key", "AKIAQ3EGRTZ7YWXLMN2PQ9"}},
	{ID: "github-token", Kind: "GitHub token", How: Format, Hints: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
		Pattern: regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b`),
		True:    []string{"ghp_R4nd0mT0k3nV4lu3xxQwErTyUiOpAsDfGhJk"},
		False:   []string{"ghp_short", "graph_ghp_"}},
	{ID: "gitlab-token", Kind: "GitLab token", How: Format, Hints: []string{"glpat-"},
		Pattern: regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}\b`),
		True:    []string{"glpat-Zx9Qw8Er7Ty6Ui5Op4As"},
		False:   []string{"glpat-short"}},
	{ID: "slack-token", Kind: "Slack token", How: Format, Hints: []string{"xox"},
		Pattern: regexp.MustCompile(`\bxox[abposr]-[0-9]+-[A-Za-z0-9-]{8,}\b`),
		True:    []string{"xoxb-1234567890-AbCdEfGhIjKl"},
		False:   []string{"xoxo-hugs-and-kisses", "xoxb-short"}},
	{ID: "google-api-key", Kind: "Google API key", How: Format, Hints: []string{"AIza"},
		Pattern: regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`),
		True:    []string{"AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"},
		False:   []string{"AIzaShort"}},
	{ID: "stripe-key", Kind: "Stripe secret key", How: Format, Hints: []string{"_live_"},
		Pattern: regexp.MustCompile(`\b(sk|rk)_live_[0-9A-Za-z]{20,}\b`),
		True:    []string{"sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
		False:   []string{"sk_test_4eC39HqLyjWDarjtT1zdp7dc", "pk_live_4eC39HqLyjWDarjtT1zdp7dc"}},
	{ID: "jwt", Kind: "JSON Web Token", How: Format, Hints: []string{"eyJ"},
		Pattern: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`),
		True:    []string{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"},
		False:   []string{"eyJhbGciOiJIUzI1NiJ9"}},

	{ID: "password-name", Kind: "literal password", How: Keyword, Words: []string{"password", "passwd", "pwd", "passphrase"},
		True:  []string{"DB_PASSWORD=hK3v9QxT2mLp", "PGPASSWORD=Wq7Zr2Kd9Xc4", "MYSQL_PWD=n8Vb3Cx6Zq1W", "password=\"hK3v9QxT2mLp\""},
		False: []string{"DB_PASSWORD=password", "DB_PASSWORD=changeme-please", "DB_PASSWORD_FILE=/run/secrets/db", "password=${DB_PASSWORD}", "password={{ .Values.pw }}", "PASSWORD=short", "password=db-credentials", "password=<your password>", "password_selector=Wq7Zr2Kd9Xc4"}},
	{ID: "token-name", Kind: "literal token", How: Keyword, Words: []string{"token"},
		True:  []string{"API_TOKEN=Zk3Rq9Xw2Lm7Np4T", "Authorization-Token=Bearer Zk3Rq9Xw2Lm7Np4T", "API_TOKEN=Zk3Rq9Xw2Lm7Np4TaB=="},
		False: []string{"TOKEN_PATH=/var/run/secrets/token", "token_ttl=24h", "token_type=bearer-token"}},
	{ID: "key-name", Kind: "literal key", How: Keyword, Words: []string{"apikey", "api_key", "access_key", "accesskey", "private_key", "privatekey", "secret_key", "secretkey", "encryption_key", "signing_key"},
		True:  []string{"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYZZQQKEY", "apiKey=9f8e7d6c5b4a3f2e1d0c"},
		False: []string{"api_key_header=X-Api-Key", "access_key_id_env=AWS_ACCESS_KEY_ID"}},
	{ID: "secret-name", Kind: "literal secret", How: Keyword, Words: []string{"secret", "credential"},
		True:  []string{"CLIENT_SECRET=Pq8Xz3Kv7Lw2Nm5R", "webhook-secret=Pq8Xz3Kv7Lw2Nm5R"},
		False: []string{"secret-field-selector=type!=helm.sh/release.v1", "inject-ca-from-secret=cert-manager/webhook-ca", "secretName=my-tls-secret", "secret=kube-system/bootstrap-token-abcdef", "checksum/secret=3f2a1b4c5d6e7f8091a2b3c4d5e6f708"}},
	{ID: "auth-name", Kind: "literal credential", How: Keyword, Words: []string{"auth"},
		True:  []string{"REDISCLI_AUTH=Tm4Kp9Wq2Xz7Lc3V", "Authorization=Bearer Tm4Kp9Wq2Xz7Lc3VbN8"},
		False: []string{"auth_url=https://auth.example.com/login", "authMode=kubernetes-native", "oauth-proxy=quay.io/oauth2-proxy/oauth2-proxy"}},

	{ID: "url-password", Kind: "password in a URL", How: Command, Hints: []string{"://"},
		Pattern: regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@'"]*:(?P<v>[^/\s@'"]{3,})@[^/\s'"]+`),
		True:    []string{"postgres://app:Xk3Lp9Qw2R@db:5432/app", "redis://:Xk3Lp9Qw2R@redis:6379/0", "amqp://guest:Xk3Lp9Qw2R@rabbit"},
		False:   []string{"https://example.com:8443/path", "http://user@host/", "redis://redis:6379", "postgres://app:${DB_PASSWORD}@db/app"}},
	{ID: "mysql-p", Kind: "password on a MySQL command line", How: Command, Hints: []string{"mysql", "mariadb"},
		Pattern: regexp.MustCompile(`(?i)\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^\n;|&]*?\s-p(?P<v>[^\s'";|&]{3,})`),
		True:    []string{`mysql -u root -pXk3Lp9Qw2R -e "select 1"`, "mysqladmin ping -h 127.0.0.1 -pXk3Lp9Qw2R"},
		False:   []string{"mysql -u root -p$MYSQL_ROOT_PASSWORD", `mysqladmin ping -p"${MYSQL_PWD}"`, "mysql -u root -p"}},
	{ID: "redis-cli-a", Kind: "password on a redis-cli command line", How: Command, Hints: []string{"redis-cli"},
		Pattern: regexp.MustCompile(`\bredis-cli\b[^\n;|&]*?\s-a\s+['"]?(?P<v>[^\s'";|&]{3,})`),
		True:    []string{"redis-cli -h localhost -a Xk3Lp9Qw2R ping"},
		False:   []string{"redis-cli -a $REDIS_PASSWORD ping", "redis-cli ping"}},
	{ID: "curl-user", Kind: "password on a curl command line", How: Command, Hints: []string{"curl"},
		Pattern: regexp.MustCompile(`\bcurl\b[^\n;|&]*?\s(?:-u|--user)\s*['"]?[^:\s'"]+:(?P<v>[^\s'";|&]{3,})`),
		True:    []string{"curl -u admin:Xk3Lp9Qw2R http://localhost/health"},
		False:   []string{"curl -u admin:$PASSWORD http://localhost/", "curl -u admin http://localhost/"}},
	{ID: "authorization-header", Kind: "credential in an Authorization header", How: Command, Hints: []string{"authorization"},
		Pattern: regexp.MustCompile(`(?i)authorization:\s*(?:bearer|basic|token)\s+(?P<v>[A-Za-z0-9._~+/=-]{8,})`),
		True:    []string{`curl -H "Authorization: Bearer Xk3Lp9Qw2RtY7uI" http://svc`},
		False:   []string{`curl -H "Authorization: Bearer $TOKEN" http://svc`}},
	{ID: "flag-value", Kind: "credential in a command-line flag", How: Command, Hints: []string{"=", ":", "-"},
		// --password VALUE, -p VALUE, --db-token=VALUE, PGPASSWORD=VALUE,
		// "password": "VALUE"; -p is a password's flag.
		Pattern: regexp.MustCompile(`(?:^|[\s'"{,(;])(?:-{1,2}(?P<k>[A-Za-z_][A-Za-z0-9_.-]*)(?:\s*=\s*|\s+)|(?P<k2>[A-Za-z_][A-Za-z0-9_.-]*)["']?\s*[=:]\s*)['"]?(?P<v>[^\s'",;|&}]+)`),
		True:    []string{"--password Xk3Lp9Qw2RtY", "PGPASSWORD=Xk3Lp9Qw2RtY psql -h db", "app --db-token=Xk3Lp9Qw2RtY", `{"password": "Xk3Lp9Qw2RtY"}`, "-p Xk3Lp9Qw2RtY", "sh -c 'export API_KEY=Xk3Lp9Qw2RtY; run'"},
		False:   []string{"--password-file /etc/pw", "-p 8080", "--secret-field-selector=type!=helm.sh/release.v1", "--password $PW", "mkdir -p /var/lib/data", "the token Xk3Lp9Qw2RtY", "--token-ttl 24h"}},
}
