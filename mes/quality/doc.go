// Package quality is the quality engine of Pilotline: the SPC monitor that
// checks each new measurement against its batch's control charts (opening
// suspect-bur NCs and holding the batch), the review by exception of a
// batch (NCs, SPC alerts, capability, missing measurements, alarms and
// comm-lost gaps), and the verification of the stored quality records
// against the hash-chained audit trail (VerifyStore).
//
// IMPORTANT: a record is compared with its audit entry in one place each:
// CheckBur, CheckNC and CheckSignature. The store check and the offline
// bundle check (mes/trace) both call them, so the two cannot disagree on
// which fields count.
//
// The charts, capability and the record hashing are vocabulary and stay in
// mes (the store hashes inside its transactions); this package imports mes
// and the standard library only.
package quality
