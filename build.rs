// The guides in knowledge/ are embedded into the binary: rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=knowledge");
    println!("cargo:rerun-if-changed=migrations");
}
