import os

os.system("echo deploying")
