;; Custom sections before, between and after the other sections.
;; Expected outcomes: (module ...) compiles; assert_malformed / assert_invalid
;; reject with CompileError. Bytes are spelled out so chunk plans cut
;; exactly where the comments say.

;; custom section before the type section
(module binary
  "\00\61\73\6d\01\00\00\00\00\07\06\62\65\66\6f\72"
  "\65\01\04\01\60\00\00\03\02\01\00\0a\04\01\02\00"
  "\0b")

;; custom sections between every pair of sections
(module binary
  "\00\61\73\6d\01\00\00\00\00\02\01\61\01\04\01\60"
  "\00\00\00\02\01\62\03\02\01\00\00\02\01\63\07\05"
  "\01\01\66\00\00\00\02\01\64\0a\04\01\02\00\0b\00"
  "\02\01\65")

;; custom section after the last section
(module binary
  "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
  "\01\00\0a\04\01\02\00\0b\00\0a\05\61\66\74\65\72"
  "\74\61\69\6c")

;; a module of nothing but custom sections
(module binary
  "\00\61\73\6d\01\00\00\00\00\05\03\6f\6e\65\31\00"
  "\06\03\74\77\6f\32\32\00\09\05\74\68\72\65\65\33"
  "\33\33")

;; a "name" section whose contents are garbage: custom section contents never fail a compile
(module binary
  "\00\61\73\6d\01\00\00\00\01\04\01\60\00\00\03\02"
  "\01\00\0a\04\01\02\00\0b\00\09\04\6e\61\6d\65\ff"
  "\ff\ff\ff")

;; custom section whose name length runs past the section end
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\00\03\05\61\62\01\04\01"
    "\60\00\00\03\02\01\00\0a\04\01\02\00\0b")
  "malformed")

;; custom section name that is not UTF-8
(assert_malformed
  (module binary
    "\00\61\73\6d\01\00\00\00\00\03\02\c0\80")
  "malformed")
