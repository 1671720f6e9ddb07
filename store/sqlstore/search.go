package sqlstore

import (
	"strconv"
	"strings"

	"vwire.dev/vwire"
)

// A client's search (vwire.Search) runs in SQL: each collection declares
// how its search fields read as SQL expressions (searchTables), and the
// condition becomes a WHERE clause whose values are all bound parameters;
// the statement text comes from these constants and the expression's
// shape only. Text compares case-insensitively for ASCII letters in both
// dialects, the same way: SQLite's lower() folds ASCII only, and
// PostgreSQL's lower() folds ASCII only under the "C" collation, whatever
// the database's locale. A * becomes LIKE's %, after escaping the value's
// own %, _ and \.

// searchCol is how a search field reads in SQL.
type searchCol struct {
	// expr is the value on the listed row: a column, or a scalar subquery
	// (which may be NULL: nullable).
	expr     string
	nullable bool
	// canon: the stored values are already lower case (ids, statuses),
	// so the column is compared as it is and an index on it serves.
	canon bool
	// exists, for a field of related rows (a data center's clusters),
	// wraps the condition on expr, which names the related row: the row
	// matches when one related row does.
	exists string
}

// searchTables are the collections' search fields, as vwire.SearchFields
// declares them (storetest checks every declared field runs).
var searchTables = map[vwire.SearchCollection]map[string]searchCol{
	vwire.SearchDataCenters: {
		"name":          {expr: "data_centers.name"},
		"id":            {expr: "data_centers.id", canon: true},
		"description":   {expr: "data_centers.description"},
		"status":        {expr: "CAST('up' AS TEXT)", canon: true},
		"clusters.name": {expr: "x.name", exists: "EXISTS (SELECT 1 FROM clusters x WHERE x.data_center_id = data_centers.id AND %s)"},
		"networks.name": {expr: "x.name", exists: "EXISTS (SELECT 1 FROM networks x WHERE x.data_center_id = data_centers.id AND %s)"},
	},
	vwire.SearchClusters: {
		"name":            {expr: "clusters.name"},
		"id":              {expr: "clusters.id", canon: true},
		"description":     {expr: "clusters.description"},
		"datacenter":      {expr: dcOf("clusters.data_center_id")},
		"datacenter.name": {expr: dcOf("clusters.data_center_id")},
	},
	vwire.SearchNetworks: {
		"name":            {expr: "networks.name"},
		"id":              {expr: "networks.id", canon: true},
		"description":     {expr: "networks.description"},
		"datacenter":      {expr: dcOf("networks.data_center_id")},
		"datacenter.name": {expr: dcOf("networks.data_center_id")},
		"vlanid":          {expr: "networks.vlan", nullable: true},
		"mtu":             {expr: "networks.mtu"},
		"clusters.name": {expr: "x.name", exists: "EXISTS (SELECT 1 FROM cluster_networks xn JOIN clusters x ON x.id = xn.cluster_id " +
			"WHERE xn.network_id = networks.id AND %s)"},
	},
	vwire.SearchProfiles: {
		"name":         {expr: "vnic_profiles.name"},
		"id":           {expr: "vnic_profiles.id", canon: true},
		"description":  {expr: "vnic_profiles.description"},
		"network":      {expr: "(SELECT x.name FROM networks x WHERE x.id = vnic_profiles.network_id)", nullable: true},
		"network.name": {expr: "(SELECT x.name FROM networks x WHERE x.id = vnic_profiles.network_id)", nullable: true},
	},
	vwire.SearchHosts: {
		"name":            {expr: "hosts.name"},
		"id":              {expr: "hosts.id", canon: true},
		"status":          {expr: "hosts.status", canon: true},
		"address":         {expr: "hosts.address"},
		"cluster":         {expr: clusterOf("hosts.cluster_id"), nullable: true},
		"cluster.name":    {expr: clusterOf("hosts.cluster_id"), nullable: true},
		"datacenter":      {expr: dcOfCluster("hosts.cluster_id"), nullable: true},
		"datacenter.name": {expr: dcOfCluster("hosts.cluster_id"), nullable: true},
	},
	vwire.SearchVMs: {
		"name":            {expr: "vms.name"},
		"id":              {expr: "vms.id", canon: true},
		"description":     {expr: "vms.description"},
		"status":          {expr: "vms.status", canon: true},
		"cluster":         {expr: clusterOf("vms.cluster_id"), nullable: true},
		"cluster.name":    {expr: clusterOf("vms.cluster_id"), nullable: true},
		"host":            {expr: "(SELECT x.name FROM hosts x WHERE x.id = vms.host_id)", nullable: true},
		"host.name":       {expr: "(SELECT x.name FROM hosts x WHERE x.id = vms.host_id)", nullable: true},
		"template":        {expr: "(SELECT x.name FROM templates x WHERE x.id = vms.template_id)", nullable: true},
		"template.name":   {expr: "(SELECT x.name FROM templates x WHERE x.id = vms.template_id)", nullable: true},
		"datacenter":      {expr: dcOfCluster("vms.cluster_id"), nullable: true},
		"datacenter.name": {expr: dcOfCluster("vms.cluster_id"), nullable: true},
		"memory":          {expr: "(vms.memory / 1048576)"},
		"os":              {expr: "vms.os_type"},
	},
	vwire.SearchTemplates: {
		"name":            {expr: "templates.name"},
		"id":              {expr: "templates.id", canon: true},
		"description":     {expr: "templates.description"},
		"cluster":         {expr: clusterOf("templates.cluster_id"), nullable: true},
		"cluster.name":    {expr: clusterOf("templates.cluster_id"), nullable: true},
		"datacenter":      {expr: dcOfCluster("templates.cluster_id"), nullable: true},
		"datacenter.name": {expr: dcOfCluster("templates.cluster_id"), nullable: true},
		"memory":          {expr: "(templates.memory / 1048576)"},
		"os":              {expr: "templates.os_type"},
	},
	vwire.SearchEvents: {
		"id":             {expr: "events.id"},
		"code":           {expr: "events.code"},
		"type":           {expr: "events.code"},
		"severity":       {expr: "events.severity", canon: true},
		"description":    {expr: "events.description"},
		"correlation_id": {expr: "events.correlation_id"},
		"usrname":        {expr: "events.user_name"},
		"vm.id":          {expr: "events.vm_id", canon: true},
		"vm.name":        {expr: "(SELECT x.name FROM vms x WHERE x.id = events.vm_id)", nullable: true},
		"host.id":        {expr: "events.host_id", canon: true},
		"host.name":      {expr: "(SELECT x.name FROM hosts x WHERE x.id = events.host_id)", nullable: true},
		"cluster.id":     {expr: "events.cluster_id", canon: true},
		"template.id":    {expr: "events.template_id", canon: true},
		"datacenter.id":  {expr: "events.data_center_id", canon: true},
	},
}

func dcOf(col string) string { return "(SELECT x.name FROM data_centers x WHERE x.id = " + col + ")" }

func clusterOf(col string) string { return "(SELECT x.name FROM clusters x WHERE x.id = " + col + ")" }

func dcOfCluster(col string) string {
	return "(SELECT x.name FROM clusters y JOIN data_centers x ON x.id = y.data_center_id WHERE y.id = " + col + ")"
}

// searchSQL is a search translated for one dialect.
type searchSQL struct {
	postgres bool
	exact    bool // case-sensitive
	table    map[string]searchCol
	fields   vwire.SearchCollection
	conds    []string
	args     []any
}

// search adds a client's search to the clause: its condition, its order
// (before orderBy's, which breaks ties) and its page. It is checked
// first (vwire.Search.Check), so a store never runs a search the API
// would refuse.
func (w *where) search(d dialect, c vwire.SearchCollection, s vwire.Search, max int) *where {
	if w.err != nil || s.IsZero() {
		return w
	}
	if w.err = s.Check(c, max); w.err != nil {
		return w
	}
	w.adhoc = true
	b := &searchSQL{postgres: d.name() == "postgres", exact: s.CaseSensitive, table: searchTables[c], fields: c}
	if s.Where != nil {
		var cond string
		if cond, w.err = b.expr(s.Where); w.err != nil {
			return w
		}
		w.conds = append(w.conds, cond)
		w.args = append(w.args, b.args...)
	}
	if s.SortBy != "" {
		f, _ := vwire.SearchFieldOf(c, s.SortBy)
		col := b.table[s.SortBy]
		key := col.expr
		if f.Kind != vwire.SearchInt && !col.canon {
			key = b.fold(col.expr)
		}
		if s.Desc {
			key += " DESC"
		}
		w.order = key
	}
	if s.Page > 1 {
		w.offset = (s.Page - 1) * max
	}
	return w
}

func (b *searchSQL) expr(e *vwire.SearchExpr) (string, error) {
	switch e.Op {
	case vwire.SearchAnd, vwire.SearchOr:
		parts := make([]string, len(e.Kids))
		for i, k := range e.Kids {
			p, err := b.expr(k)
			if err != nil {
				return "", err
			}
			parts[i] = p
		}
		join := " AND "
		if e.Op == vwire.SearchOr {
			join = " OR "
		}
		return "(" + strings.Join(parts, join) + ")", nil
	}
	col, ok := b.table[e.Field]
	f, declared := vwire.SearchFieldOf(b.fields, e.Field)
	if !ok || !declared {
		return "", vwire.InvalidValue(vwire.MsgInvalidValue, "Cannot search by "+strconv.Quote(e.Field)+" in this store.")
	}
	expr := col.expr
	if col.nullable && f.Kind != vwire.SearchInt {
		expr = "COALESCE(" + expr + ", '')"
	}
	var cond string
	switch {
	case f.Kind == vwire.SearchInt:
		n, err := strconv.ParseInt(e.Value, 10, 64)
		if err != nil {
			return "", vwire.InvalidValue(vwire.MsgInvalidValue, "Cannot search by "+f.Name+" = "+strconv.Quote(e.Value)+": "+f.Name+" is a whole number.")
		}
		op := map[vwire.SearchOp]string{vwire.SearchEq: "=", vwire.SearchNe: "=", vwire.SearchLt: "<",
			vwire.SearchLe: "<=", vwire.SearchGt: ">", vwire.SearchGe: ">="}[e.Op]
		cond = expr + " " + op + " ?"
		b.args = append(b.args, n)
	default:
		v := e.Value
		switch {
		case b.exact && !col.canon && b.postgres:
			expr += ` COLLATE "C"`
		case !col.canon && !b.exact:
			expr = b.fold(expr)
			v = foldASCII(v)
		case col.canon:
			v = foldASCII(v)
		}
		switch e.Op {
		case vwire.SearchEq, vwire.SearchNe:
			switch {
			case !strings.Contains(v, "*"):
				cond = expr + " = ?"
			case b.exact && !b.postgres && !col.canon:
				// SQLite's LIKE ignores the case of ASCII letters; GLOB
				// does not.
				cond = expr + " GLOB ?"
				v = globPattern(v)
			default:
				cond = expr + ` LIKE ? ESCAPE '\'`
				v = likePattern(v)
			}
		case vwire.SearchLt:
			cond = expr + " < ?"
		case vwire.SearchLe:
			cond = expr + " <= ?"
		case vwire.SearchGt:
			cond = expr + " > ?"
		case vwire.SearchGe:
			cond = expr + " >= ?"
		}
		b.args = append(b.args, v)
	}
	if col.exists != "" {
		if e.Op == vwire.SearchNe {
			// "clusters.name!=a": no related row is named a (a data
			// center without clusters included), as = is "one is".
			return "NOT " + strings.Replace(col.exists, "%s", cond, 1), nil
		}
		return strings.Replace(col.exists, "%s", cond, 1), nil
	}
	if e.Op == vwire.SearchNe {
		if f.Kind == vwire.SearchInt && col.nullable {
			return "(" + expr + " IS NULL OR NOT " + cond + ")", nil
		}
		return "NOT " + cond, nil
	}
	return cond, nil
}

// fold lower-cases ASCII letters only, the same in both dialects.
func (b *searchSQL) fold(expr string) string {
	if b.postgres {
		return "lower(" + expr + ` COLLATE "C")`
	}
	return "lower(" + expr + ")"
}

// foldASCII lower-cases the ASCII letters of s, as fold does in SQL.
func foldASCII(s string) string {
	var out []byte
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			if out == nil {
				out = []byte(s)
			}
			out[i] = c + 'a' - 'A'
		}
	}
	if out == nil {
		return s
	}
	return string(out)
}

// globPattern turns a value with * wildcards into a SQLite GLOB pattern:
// its own ? and [ become one-character classes.
func globPattern(v string) string {
	return strings.NewReplacer("[", "[[]", "?", "[?]").Replace(v)
}

// likePattern turns a value with * wildcards into a LIKE pattern whose
// escape character is \.
func likePattern(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '%', '_':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '*':
			b.WriteByte('%')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
