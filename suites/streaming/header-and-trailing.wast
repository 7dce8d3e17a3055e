;; Truncated headers and trailing junk.
;; Expected outcomes: (module ...) compiles; assert_malformed / assert_invalid
;; reject with CompileError. Bytes are spelled out so chunk plans cut
;; exactly where the comments say.

;; empty body
(assert_malformed
  (module binary
    "")
  "malformed")

;; magic only
(assert_malformed
  (module binary
    "\00\61\73\6d")
  "malformed")

;; truncated header: magic and half the version
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00")
  "malformed")

;; header with one byte of the version missing
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00")
  "malformed")

;; bare header: a valid empty module
(module binary
  "\00\61\73\6d\01\00\00\00")

;; wrong magic
(assert_malformed
  (module binary
    "\00\77\73\6d\01\00\00\00")
  "malformed")

;; version 2
(assert_malformed
  (module binary
    "\00\61\73\6d\02\00\00\00")
  "malformed")

;; a component header is not a core module
(assert_malformed
  (module binary
    "\00\61\73\6d\0d\00\01\00")
  "malformed")

;; one byte of trailing junk after a complete module
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\04\01\02\00\0b\42")
  "malformed")

;; a trailing zero byte: a custom-section id with nothing after it
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\04\01\02\00\0b\00")
  "malformed")

;; a complete module followed by a second header
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\04\01\02\00\0b\00\61\73\6d\01\00\00\00")
  "malformed")
