// Group-commit layouts against one file (docs/profile.md, "The embedded bus's group commit").
// gcc -O2 -o layouts layouts.c -lpthread && ./layouts one|par3|seq3|syncfs3|sfr3 DIR
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <time.h>
#include <sys/stat.h>
#define CH 33000
#define TOTAL (300L<<20)
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static int fds[3];
typedef struct {int fd; pthread_barrier_t *b;} arg;
static pthread_barrier_t start_b, end_b; static volatile int stop_flag=0;
static void* worker(void*p){int i=(int)(long)p; for(;;){pthread_barrier_wait(&start_b); if(stop_flag) return 0; fdatasync(fds[i]); pthread_barrier_wait(&end_b);} }
int main(int argc,char**argv){
  const char*mode=argv[1]; const char*dir=argv[2];
  char buf[CH]; memset(buf,'x',CH);
  int n = strcmp(mode,"one")==0?1:3;
  char path[256]; long off[3]={0};
  for(int i=0;i<n;i++){snprintf(path,256,"%s/f%d",dir,i); unlink(path); fds[i]=open(path,O_RDWR|O_CREAT,0644);}
  int dfd=open(dir,O_RDONLY);
  pthread_t th[3];
  if(!strcmp(mode,"par3")){pthread_barrier_init(&start_b,0,4);pthread_barrier_init(&end_b,0,4);for(int i=0;i<3;i++)pthread_create(&th[i],0,worker,(void*)(long)i);}
  long written=0; int groups=0; long pre[3]={0};
  double t0=now();
  while(written<TOTAL){
    for(int k=0;k<8;k++){int f=n==1?0:k%3; if(off[f]+CH>pre[f]){fallocate(fds[f],1,pre[f],8<<20);pre[f]+=8<<20;} pwrite(fds[f],buf,CH,off[f]);off[f]+=CH;written+=CH;}
    if(!strcmp(mode,"one")) fdatasync(fds[0]);
    else if(!strcmp(mode,"par3")){pthread_barrier_wait(&start_b);pthread_barrier_wait(&end_b);}
    else if(!strcmp(mode,"seq3")){for(int i=0;i<3;i++)fdatasync(fds[i]);}
    else if(!strcmp(mode,"syncfs3")){if(syncfs(dfd)) perror("syncfs");}
    else if(!strcmp(mode,"sfr3")){for(int i=0;i<3;i++)sync_file_range(fds[i],0,0,SYNC_FILE_RANGE_WRITE); for(int i=0;i<3;i++)sync_file_range(fds[i],0,0,SYNC_FILE_RANGE_WAIT_BEFORE|SYNC_FILE_RANGE_WRITE|SYNC_FILE_RANGE_WAIT_AFTER); fdatasync(fds[0]);}
    groups++;
  }
  double t=now()-t0;
  printf("%s %.3f s groups %d %.3f ms/group\n",mode,t,groups,t*1000/groups);
  for(int i=0;i<n;i++){snprintf(path,256,"%s/f%d",dir,i); unlink(path);}
  return 0;
}
