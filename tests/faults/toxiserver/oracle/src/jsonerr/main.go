// Reads base64 bodies, one per line; prints what json.NewDecoder(body).Decode(&v) says.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		b, _ := base64.StdEncoding.DecodeString(sc.Text())
		var v interface{}
		err := json.NewDecoder(bytes.NewReader(b)).Decode(&v)
		if err != nil {
			fmt.Println("E " + err.Error())
		} else {
			fmt.Println("OK")
		}
	}
}
