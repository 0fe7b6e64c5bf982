from repro.record.secretscan import scan_diff

DIFF = b'''diff --git a/config.py b/config.py
index 1111111..2222222 100644
--- a/config.py
+++ b/config.py
@@ -1,2 +1,4 @@
 name = "x"
+GITHUB = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"
+aws = "AKIAABCDEFGHIJKLMNOP"
-old = 1
+api_key = "s3cr3t-value-123"
diff --git a/notes.txt b/notes.txt
new file mode 100644
--- /dev/null
+++ b/notes.txt
@@ -0,0 +1,2 @@
+nothing here
+-----BEGIN OPENSSH PRIVATE KEY-----
'''


def test_finds_tokens_with_file_line_and_kind_but_not_value():
    findings = scan_diff(DIFF)
    assert findings == [('config.py', 2, 'GitHub token'), ('config.py', 3, 'AWS access key id'),
                        ('config.py', 4, 'password/token assignment'),
                        ('notes.txt', 2, 'private key')]
    assert not any('ghp_' in str(f) for f in findings)


def test_clean_diff_has_no_findings():
    assert scan_diff(b'+++ b/a.py\n@@ -0,0 +1 @@\n+tokens = tokenize(text)\n') == []
