package main

import (
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// VWIRE_BENCH_PGSTAT=1 makes the deployed part a diagnosis run: its private
// PostgreSQL loads pg_stat_statements (the one setting changed), and after
// the load the statements the engines ran are listed with their calls and
// PostgreSQL's execution time per acknowledged update. Not a reference run:
// the extension costs time of its own.
var pgstatOn = os.Getenv("VWIRE_BENCH_PGSTAT") != ""

// pgstatOption is the server option that loads the extension, or "".
func pgstatOption() string {
	if !pgstatOn {
		return ""
	}
	return " -c shared_preload_libraries=pg_stat_statements"
}

// pgstatReset forgets what set-up and pgbench ran.
func pgstatReset(url string) error {
	if !pgstatOn {
		return nil
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		return fmt.Errorf("pg_stat_statements (give no -db, or load it on the server given): %w", err)
	}
	_, err = db.Exec(`SELECT pg_stat_statements_reset()`)
	return err
}

var spaces = regexp.MustCompile(`\s+`)

// pgstatReport prints, to stderr, the statements run since pgstatReset by
// calls per update, with their execution time per update.
func pgstatReport(url string, updates int64) error {
	if !pgstatOn || updates == 0 {
		return nil
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT calls, total_exec_time, query FROM pg_stat_statements
		WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC, total_exec_time DESC`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var calls, ms float64
	fmt.Fprintf(os.Stderr, "pg_stat_statements over %d updates: calls per update, PostgreSQL µs per update, statement\n", updates)
	for rows.Next() {
		var c int64
		var t float64
		var q string
		if err := rows.Scan(&c, &t, &q); err != nil {
			return err
		}
		calls, ms = calls+float64(c), ms+t
		per := float64(c) / float64(updates)
		if per < 0.05 {
			continue
		}
		q = spaces.ReplaceAllString(q, " ")
		if len(q) > 140 {
			q = q[:140] + "…"
		}
		fmt.Fprintf(os.Stderr, "%6.2f %8.1f  %s\n", per, t*1000/float64(updates), strings.TrimSpace(q))
	}
	fmt.Fprintf(os.Stderr, "total: %.1f statements and %.0f µs of execution per update\n", calls/float64(updates), ms*1000/float64(updates))
	return rows.Err()
}
