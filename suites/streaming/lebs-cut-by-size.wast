;; A section size that ends inside a LEB.
;; Expected outcomes: (module ...) compiles; assert_malformed / assert_invalid
;; reject with CompileError. Bytes are spelled out so chunk plans cut
;; exactly where the comments say.

;; section size LEB ends at the end of the body (continuation bit set)
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\80")
  "malformed")

;; section size LEB of 5 continuation bytes
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\80\80\80\80")
  "malformed")

;; section size ends inside the function-count LEB of the code section
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\01\81\80\00\02\00\0b")
  "malformed")

;; section size ends inside a body-size LEB
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
    "\01\00\0a\02\01\82\00\00\0b")
  "malformed")

;; type count LEB is cut by the section size
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\01\01\81\00\60\00\00")
  "malformed")
