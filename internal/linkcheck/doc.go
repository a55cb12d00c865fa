// Package linkcheck holds the smallest securedb programs, one per provider,
// and the test that holds the library to "a program links only the SDKs it
// imports".
package linkcheck
